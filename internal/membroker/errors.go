package membroker

import "errors"

var (
	// ErrClosed is returned by every call through a connection after Conn.Close, and by
	// settling a delivery that the connection consumed: the broker has taken it back.
	ErrClosed = errors.New("membroker: connection closed")
	// ErrConsumerStopped is returned by settling a delivery whose consumer was cancelled
	// (or its ctx ended): the delivery went back to its queue when the consumer stopped.
	ErrConsumerStopped = errors.New("membroker: consumer stopped; its unsettled deliveries went back to the queue")
	// ErrAlreadySettled is returned by settling a delivery a second time.
	ErrAlreadySettled = errors.New("membroker: delivery already settled")
	// ErrNoSuchQueue is returned by Consume on a queue the hub does not have, like
	// RabbitMQ's NOT_FOUND.
	ErrNoSuchQueue = errors.New("membroker: no such queue")
)

// ErrFault is the Err of a *queues.PublishError for messages that Options.Faults dropped or
// whose confirm it lost.
var ErrFault = errors.New("membroker: injected fault")
