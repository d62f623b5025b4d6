package membroker

import (
	"slices"
	"time"

	"github.com/warrenhq/warren/queues"
)

// entry is a message in a queue with what the broker knows of its past deliveries.
type entry struct {
	msg queues.Message
	// returns counts the times the message went back to the queue: RabbitMQ's
	// x-delivery-count, which the delivery limit is checked against.
	returns     int
	redelivered bool
	due         time.Time // when a scheduled message was due
}

// queue is one declared queue. Its fields are guarded by the broker's lock.
type queue struct {
	name string
	// limit is how many returns the queue accepts before it dead-letters the message
	// (x-delivery-limit); 0 means none.
	limit int
	// singleActive: only the first live consumer receives (x-single-active-consumer).
	singleActive bool
	items        []entry
	// returned counts the messages at the head of items that came back from consumers and
	// wait to be delivered again: RabbitMQ's quorum queues deliver returns first, in the
	// order they came back.
	returned  int
	consumers []*Consumer // live ones, in the order they subscribed
	stats     Stats
}

// Stats counts what happened at one queue. Each delivery ends as exactly one of Acked,
// Returned or DeadLettered (Discarded on the dead-letter queue itself), unless it is still
// unsettled.
type Stats struct {
	// Enqueued counts messages that entered the queue: published (twice when duplicated),
	// scheduled and due, or dead-lettered into it.
	Enqueued int
	// Delivered counts deliveries to consumers, redeliveries included.
	Delivered int
	// Acked counts deliveries acked.
	Acked int
	// Returned counts deliveries that went back to the queue: nacked with requeue, or
	// unsettled when their consumer or connection stopped.
	Returned int
	// DeadLettered counts messages that left the queue for the dead-letter queue: by
	// Delivery.DeadLetter, Nack without requeue, or the delivery limit.
	DeadLettered int
	// Discarded counts messages dropped because they had nowhere to go: nacked without
	// requeue, or past a delivery limit, on the dead-letter queue itself.
	Discarded int
}

// push appends a message at the tail.
func (q *queue) push(e entry) {
	q.items = append(q.items, e)
	q.stats.Enqueued++
}

// pop takes the head.
func (q *queue) pop() entry {
	e := q.items[0]
	q.items[0] = entry{}
	q.items = q.items[1:]
	if q.returned > 0 {
		q.returned--
	}
	return e
}

// receives reports whether c may receive from q now: on a single-active-consumer queue only
// the first live consumer does, and the next takes over when it stops.
func (q *queue) receives(c *Consumer) bool {
	return !q.singleActive || (len(q.consumers) > 0 && q.consumers[0] == c)
}

func (q *queue) removeConsumer(c *Consumer) {
	q.consumers = slices.DeleteFunc(q.consumers, func(o *Consumer) bool { return o == c })
}

// giveBack returns deliveries of q to its head, behind earlier returns still waiting there,
// in the order given (oldest delivery first),
// each with its delivery count raised and marked redelivered; a message past the queue's
// delivery limit is dead-lettered instead, as RabbitMQ's quorum queues do. Every return
// counts, a dropped consumer's too, as in RabbitMQ 3.13 (Warren's docker-compose); 4.3
// counts only returns that say the delivery failed.
func (b *Broker) giveBack(q *queue, es []entry) {
	back := make([]entry, 0, len(es))
	for _, e := range es {
		e.returns++
		e.redelivered = true
		if q.limit > 0 && e.returns > q.limit {
			b.deadLetter(q, e.msg, queues.BrokerReason(q.name, "delivery_limit"), true)
			continue
		}
		back = append(back, e)
	}
	q.stats.Returned += len(back)
	q.items = slices.Insert(q.items, q.returned, back...)
	q.returned += len(back)
}

// deadLetter moves a message from q to the dead-letter queue with reason. When byBroker
// (a rejection, the delivery limit) a message that has a Reason keeps it, as RabbitMQ keeps
// its x-warren-reason header, and one on the dead-letter queue itself is discarded: that
// queue has no dead-letter exchange. Otherwise (Delivery.DeadLetter publishes it) reason
// replaces the message's own. Either way the message names the queue it died in, as queues
// reads it back.
func (b *Broker) deadLetter(q *queue, m queues.Message, reason string, byBroker bool) {
	if !byBroker || m.Reason == "" {
		m.Reason = reason
	}
	if !byBroker || m.SourceQueue == "" {
		m.SourceQueue = q.name // x-warren-source-queue, or the x-death queue
	}
	if byBroker && q == b.deadLetterQ {
		q.stats.Discarded++
		b.discarded = append(b.discarded, m)
		return
	}
	q.stats.DeadLettered++
	b.deadLetterQ.push(entry{msg: m})
	b.deadLetters = append(b.deadLetters, m)
}
