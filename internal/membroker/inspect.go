package membroker

import (
	"slices"

	"github.com/warrenhq/warren/queues"
)

// What the simulation's invariants read. Each returns a copy.

// Queues lists the hub's queues in declaration order.
func (b *Broker) Queues() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, len(b.order))
	for i, q := range b.order {
		out[i] = q.name
	}
	return out
}

// Pending lists the messages waiting for queue: those in it, head first, then those
// scheduled for it, in due order. Unsettled deliveries are not in it (see Unsettled).
func (b *Broker) Pending(queue string) []queues.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []queues.Message
	q := b.queues[queue]
	if q == nil {
		return nil
	}
	for _, e := range q.items {
		out = append(out, e.msg)
	}
	for _, t := range b.timers {
		if t.q == q {
			out = append(out, t.e.msg)
		}
	}
	return out
}

// Unsettled lists the messages of queue delivered and not yet settled, by consumer in
// subscription order, then in delivery order.
func (b *Broker) Unsettled(queue string) []queues.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []queues.Message
	q := b.queues[queue]
	if q == nil {
		return nil
	}
	for _, k := range q.consumers {
		for _, d := range k.unacked {
			out = append(out, d.e.msg)
		}
	}
	return out
}

// Unacked is the number of deliveries not yet settled, over every queue.
func (b *Broker) Unacked() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.unacked
}

// DeadLetters lists every message that entered the dead-letter queue, in order, with its
// Reason, whether or not it has been consumed from there since.
func (b *Broker) DeadLetters() []queues.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.deadLetters)
}

// Discarded lists the messages the broker dropped because they had nowhere to go (nacked
// without requeue, or past a delivery limit, on the dead-letter queue), with the Reason.
func (b *Broker) Discarded() []queues.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.discarded)
}

// Announced lists every message announced through Conn.Announce, in order.
func (b *Broker) Announced() []queues.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.announced)
}

// Stats counts what happened at queue (zero for a queue the hub does not have).
func (b *Broker) Stats(queue string) Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	if q := b.queues[queue]; q != nil {
		return q.stats
	}
	return Stats{}
}
