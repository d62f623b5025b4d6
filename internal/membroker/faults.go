package membroker

// FaultPoint is where a fault may strike: one message of a Publish or Schedule call, or
// the ack of one delivery.
type FaultPoint struct {
	Op        string // "publish", "schedule" or "ack"
	Queue     string
	MessageID string
	Conn      string // the name given to Connect
}

// Fault is what goes wrong with one message; the zero Fault is none. Drop wins over the
// others.
type Fault struct {
	// Drop: the broker never takes the message and the publisher gets an error (a nack, or
	// the connection lost before the message left).
	Drop bool
	// LoseConfirm: the broker takes the message but the publisher gets an error, as when
	// the connection drops before the confirm arrives. A publisher that tries again
	// enqueues it twice.
	LoseConfirm bool
	// Duplicate: the message is enqueued twice and the publisher gets no error, as when a
	// client library sends it again after a reconnect.
	Duplicate bool
	// LoseAck (at an ack): the consumer's ack succeeds but never reaches the broker, which
	// delivers the message again, as RabbitMQ does when a channel dies with the ack still
	// held back by the queues package's coalescing (queues/acks.go) or on its way. The
	// consumer must take the copy of what it has done as done.
	LoseAck bool
}

// faultsFor asks opts.Faults about each message, without the broker's lock held (the
// function may call the broker).
func (b *Broker) faultsFor(op, queue, conn string, ids []string) []Fault {
	fs := make([]Fault, len(ids))
	if b.opts.Faults == nil {
		return fs
	}
	for i, id := range ids {
		fs[i] = b.opts.Faults(FaultPoint{Op: op, Queue: queue, MessageID: id, Conn: conn})
	}
	return fs
}
