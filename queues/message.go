package queues

import "time"

// Message is the envelope of everything Warren sends through RabbitMQ. ID, Kind and
// InstanceID travel as AMQP properties/headers (message-id, type, x-instance-id), the trace
// context as `traceparent`/`tracestate` headers, and Body as the payload.
type Message struct {
	ID          string
	Kind        string
	InstanceID  string
	Body        []byte
	TraceParent string
	TraceState  string
	// Reason is set on dead-lettered messages: why the message was given up.
	Reason string
	// Timestamp is when the message was first published.
	Timestamp time.Time
}
