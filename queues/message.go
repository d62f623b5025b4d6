package queues

import (
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

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
	// SourceQueue is set on messages read from the dead-letter queue: the queue the message
	// was given up in ("" when nothing says).
	SourceQueue string
	// Timestamp is when the message was first published.
	Timestamp time.Time
	// PriorDeliveries counts the deliveries of earlier copies of this message: a worker
	// renews a work item near the queue's delivery limit by publishing a fresh copy that
	// carries the count (header x-warren-prior-deliveries), so the broker's count starts
	// again while the total stays known.
	PriorDeliveries int
}

// Header names Warren adds to AMQP messages (besides message-id, type and timestamp).
const (
	headerInstanceID  = "x-instance-id"
	headerTraceParent = "traceparent"
	headerTraceState  = "tracestate"
	headerReason      = "x-warren-reason"
	headerSourceQueue = "x-warren-source-queue"
	headerDue         = "x-warren-due" // unix milliseconds at which a scheduled message is due
	headerPrior       = "x-warren-prior-deliveries"
)

// publishing encodes m as a persistent AMQP message; due, when not zero, marks it scheduled.
func (m *Message) publishing(due time.Time) amqp.Publishing {
	h := amqp.Table{}
	if m.InstanceID != "" {
		h[headerInstanceID] = m.InstanceID
	}
	if m.TraceParent != "" {
		h[headerTraceParent] = m.TraceParent
	}
	if m.TraceState != "" {
		h[headerTraceState] = m.TraceState
	}
	if m.Reason != "" {
		h[headerReason] = m.Reason
	}
	if m.PriorDeliveries > 0 {
		h[headerPrior] = int64(m.PriorDeliveries)
	}
	if !due.IsZero() {
		ms := due.UnixMilli()
		if due.After(time.UnixMilli(ms)) { // round up: a timer is never handed over early
			ms++
		}
		h[headerDue] = ms
	}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	return amqp.Publishing{
		Headers:      h,
		DeliveryMode: amqp.Persistent,
		MessageId:    m.ID,
		Type:         m.Kind,
		Timestamp:    ts,
		Body:         m.Body,
	}
}

// messageOf decodes a delivery; on the dead-letter queue a message the broker dead-lettered
// gets its Reason from the x-death header.
func messageOf(d *amqp.Delivery, fromDeadLetterQueue bool) Message {
	m := Message{
		ID:          d.MessageId,
		Kind:        d.Type,
		InstanceID:  headerString(d.Headers, headerInstanceID),
		Body:        d.Body,
		TraceParent: headerString(d.Headers, headerTraceParent),
		TraceState:  headerString(d.Headers, headerTraceState),
		Reason:      headerString(d.Headers, headerReason),
		Timestamp:   d.Timestamp,

		PriorDeliveries: int(headerInt(d.Headers, headerPrior)),
	}
	if fromDeadLetterQueue {
		m.SourceQueue = headerString(d.Headers, headerSourceQueue)
		if m.Reason == "" {
			m.Reason = deathReason(d.Headers)
		}
		if m.SourceQueue == "" {
			m.SourceQueue = deathQueue(d.Headers)
		}
	}
	return m
}

// deathQueue is the queue the broker dead-lettered a message from (x-death), "" if none.
func deathQueue(h amqp.Table) string {
	deaths, _ := h["x-death"].([]any)
	for _, d := range deaths {
		t, ok := d.(amqp.Table)
		if reason, _ := t["reason"].(string); !ok || reason == "" || reason == "expired" {
			continue
		}
		queue, _ := t["queue"].(string)
		return queue
	}
	return ""
}

// BrokerReason is the Reason of a message the broker dead-lettered from queue for why (an
// x-death reason such as "delivery_limit").
func BrokerReason(queue, why string) string {
	return fmt.Sprintf("dead-lettered by the broker from %s: %s", queue, why)
}

// deathReason describes the broker's dead-lettering of a message (x-death), skipping the
// "expired" entries every timer collects on its way down the ladder.
func deathReason(h amqp.Table) string {
	deaths, _ := h["x-death"].([]any)
	for _, d := range deaths {
		t, ok := d.(amqp.Table)
		if !ok {
			continue
		}
		reason, _ := t["reason"].(string)
		if reason == "" || reason == "expired" {
			continue
		}
		queue, _ := t["queue"].(string)
		return BrokerReason(queue, reason)
	}
	return ""
}

func headerString(h amqp.Table, key string) string {
	switch v := h[key].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

func headerInt(h amqp.Table, key string) int64 {
	switch v := h[key].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	case int:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	}
	return 0
}
