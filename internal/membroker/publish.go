package membroker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/warrenhq/warren/queues"
)

// Publish enqueues msgs at the tail of queue, in order. Like queues.Conn.Publish it returns
// nil only when the broker took every message; otherwise a *queues.PublishError says which
// it did not confirm (errors.Is queues.ErrUnconfirmed; Options.Faults, a closed connection,
// an ended ctx) or that the queue does not exist (errors.Is queues.ErrUnroutable, nothing
// enqueued). A message without an ID gets one; one without a Timestamp gets the clock's.
func (c *Conn) Publish(ctx context.Context, queue string, msgs ...queues.Message) error {
	return c.send(ctx, "publish", queue, time.Time{}, msgs)
}

// Schedule is Publish for messages the queue receives when the virtual clock reaches due:
// they are held until a Tick at or after due (at once when due is not after the clock), and
// their deliveries carry Due.
func (c *Conn) Schedule(ctx context.Context, queue string, due time.Time, msgs ...queues.Message) error {
	return c.send(ctx, "schedule", queue, due, msgs)
}

func (c *Conn) send(ctx context.Context, op, queue string, due time.Time, msgs []queues.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	b := c.b
	now := b.now()
	b.mu.Lock()
	msgs = b.stamp(msgs, now)
	q, err := b.queues[queue], c.usable(ctx)
	b.mu.Unlock()
	if err != nil {
		return unconfirmed(queue, msgs, err)
	}
	if q == nil {
		return &queues.PublishError{Queue: queue, Unroutable: indexes(len(msgs)), IDs: ids(msgs),
			Err: fmt.Errorf("%w: hub %q has %s", ErrNoSuchQueue, b.opts.Hub, b.describeQueues())}
	}
	faults := b.faultsFor(op, queue, c.name, ids(msgs))

	b.mu.Lock()
	defer b.mu.Unlock()
	if c.closed {
		return unconfirmed(queue, msgs, ErrClosed)
	}
	perr := &queues.PublishError{Queue: queue, IDs: ids(msgs), Err: ErrFault}
	for i, m := range msgs {
		f := faults[i]
		if f.Drop {
			perr.Unconfirmed = append(perr.Unconfirmed, i)
			continue
		}
		b.enqueue(q, m, due, now)
		if f.Duplicate {
			b.enqueue(q, m, due, now)
		}
		if f.LoseConfirm {
			perr.Unconfirmed = append(perr.Unconfirmed, i)
		}
	}
	if len(perr.Unconfirmed) > 0 {
		return perr
	}
	return nil
}

// enqueue appends m to q, or holds it until due.
func (b *Broker) enqueue(q *queue, m queues.Message, due, now time.Time) {
	e := entry{msg: m, due: due}
	if due.After(now) {
		b.timers.add(timer{q: q, e: e})
		return
	}
	q.push(e)
}

// stamp returns a copy of msgs with an ID and a Timestamp on each, as RabbitMQ's publisher
// gives them. The ids come from the broker's sequence, so they repeat from run to run.
func (b *Broker) stamp(msgs []queues.Message, now time.Time) []queues.Message {
	msgs = slices.Clone(msgs)
	for i := range msgs {
		if msgs[i].ID == "" {
			msgs[i].ID = fmt.Sprintf("membroker-%d", b.next())
		}
		if msgs[i].Timestamp.IsZero() {
			msgs[i].Timestamp = now
		}
	}
	return msgs
}

// unconfirmed is the error for a call none of whose messages the broker took.
func unconfirmed(queue string, msgs []queues.Message, err error) error {
	return &queues.PublishError{Queue: queue, Unconfirmed: indexes(len(msgs)), IDs: ids(msgs), Err: err}
}

func indexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func ids(msgs []queues.Message) []string {
	out := make([]string, len(msgs))
	for i := range msgs {
		out[i] = msgs[i].ID
	}
	return out
}

// describeQueues names the hub's queues for an error message.
func (b *Broker) describeQueues() string {
	h, p := b.opts.Hub, b.opts.Partitions
	return fmt.Sprintf("%s..%s, %s and %s", queues.ControlQueue(h, 0), queues.ControlQueue(h, p-1),
		queues.WorkItemQueue(h), queues.DeadLetterQueue(h))
}
