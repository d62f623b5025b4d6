package membroker

import (
	"slices"

	"github.com/warrenhq/warren/queues"
)

// delivery is the broker's side of one delivery: the queues.Settler of its queues.Delivery.
type delivery struct {
	k *Consumer
	e entry
	// settled is guarded by the broker's lock; a delivery given back when its consumer
	// stopped counts as settled.
	settled bool
}

// Ack removes the message for good, unless the fault hook loses the ack (Fault.LoseAck):
// then the message goes back to its queue as a redelivery.
func (d *delivery) Ack() error {
	k := d.k
	lost := k.b.faultsFor("ack", k.q.name, k.conn.name, []string{d.e.msg.ID})[0].LoseAck
	return d.settle(func(b *Broker, q *queue) {
		if lost {
			b.giveBack(q, []entry{d.e})
			return
		}
		q.stats.Acked++
	})
}

// Nack with requeue puts the message back at the head of its queue (behind earlier returns
// still waiting there), redelivered with its
// delivery count raised (or dead-letters it past the queue's delivery limit); without,
// it dead-letters the message as rejected. RabbitMQ would drop a message rejected from a
// control queue, which has no dead-letter exchange; here it stays visible in DeadLetters,
// and Warren never rejects one without requeue anyway.
func (d *delivery) Nack(requeue bool) error {
	return d.settle(func(b *Broker, q *queue) {
		if requeue {
			b.giveBack(q, []entry{d.e})
			return
		}
		b.deadLetter(q, d.e.msg, queues.BrokerReason(q.name, "rejected"), true)
	})
}

// DeadLetter moves the message to the dead-letter queue with reason, as queues' DeadLetter
// publishes it there and acks it.
func (d *delivery) DeadLetter(reason string) error {
	return d.settle(func(b *Broker, q *queue) { b.deadLetter(q, d.e.msg, reason, false) })
}

// settle takes the delivery off its consumer and applies do, unless it can no longer be
// settled: its connection closed or its consumer stopped (the broker took it back), or it
// was settled already.
func (d *delivery) settle(do func(*Broker, *queue)) error {
	k := d.k
	b := k.b
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case k.conn.closed:
		return ErrClosed
	case k.stopped:
		return ErrConsumerStopped
	case d.settled:
		return ErrAlreadySettled
	}
	d.settled = true
	k.unacked = slices.DeleteFunc(k.unacked, func(o *delivery) bool { return o == d })
	b.unacked--
	do(b, k.q)
	return nil
}

var _ queues.Settler = (*delivery)(nil)

// Stale reports whether the delivery can no longer be settled: its connection closed or its
// consumer stopped, so the broker has taken the message back.
func (d *delivery) Stale() bool {
	b := d.k.b
	b.mu.Lock()
	defer b.mu.Unlock()
	return d.k.conn.closed || d.k.stopped
}
