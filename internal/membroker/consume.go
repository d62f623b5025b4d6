package membroker

import (
	"context"
	"fmt"
	"slices"

	"github.com/warrenhq/warren/queues"
)

// Consumer is one subscription made by Conn.Consume. It receives only through
// Broker.Deliver.
type Consumer struct {
	b        *Broker
	conn     *Conn
	q        *queue
	tag      uint64
	prefetch int
	ctx      context.Context
	handle   func(*queues.Delivery)
	// Guarded by b.mu.
	stopped bool
	unacked []*delivery // in delivery order
}

// Consume subscribes to queue with manual acks and at most prefetch (at least 1) deliveries
// unsettled at once. handle is called by Broker.Deliver. The consumer stops on Cancel, on
// Conn.Close, or once ctx has ended (noticed by the next Ready or Deliver).
func (c *Conn) Consume(ctx context.Context, queue string, prefetch int, handle func(*queues.Delivery)) (*Consumer, error) {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := c.usable(ctx); err != nil {
		return nil, fmt.Errorf("membroker: consume %q: %w", queue, err)
	}
	q := b.queues[queue]
	if q == nil {
		return nil, fmt.Errorf("membroker: consume %q: %w (hub %q has %s)", queue, ErrNoSuchQueue, b.opts.Hub, b.describeQueues())
	}
	k := &Consumer{b: b, conn: c, q: q, tag: b.next(), prefetch: max(prefetch, 1), ctx: ctx, handle: handle}
	q.consumers = append(q.consumers, k)
	c.consumers = append(c.consumers, k)
	return k, nil
}

// Queue is the queue it consumes.
func (k *Consumer) Queue() string { return k.q.name }

// Conn is the name of its connection.
func (k *Consumer) Conn() string { return k.conn.name }

// Stopped reports whether the consumer has stopped (Cancel, Conn.Close, its ctx).
func (k *Consumer) Stopped() bool {
	k.b.mu.Lock()
	defer k.b.mu.Unlock()
	return k.stopped
}

// Cancel stops the consumer: it receives nothing more, and its unsettled deliveries go back
// to the queue (redelivered, their delivery count raised), as RabbitMQ does when the
// consumer's channel closes. On a single-active-consumer queue the next consumer takes
// over. Cancelling twice is a no-op.
func (k *Consumer) Cancel() error {
	k.b.mu.Lock()
	defer k.b.mu.Unlock()
	k.b.stop(k)
	return nil
}

// stop stops k and gives its unsettled deliveries back to the queue, oldest first.
func (b *Broker) stop(k *Consumer) {
	if k.stopped {
		return
	}
	k.stopped = true
	k.q.removeConsumer(k)
	k.conn.consumers = slices.DeleteFunc(k.conn.consumers, func(o *Consumer) bool { return o == k })
	es := make([]entry, len(k.unacked))
	for i, d := range k.unacked {
		d.settled = true
		es[i] = d.e
	}
	b.unacked -= len(k.unacked)
	k.unacked = nil
	b.giveBack(k.q, es)
}

// reap stops the consumers whose ctx has ended. The broker has no goroutine to watch the
// contexts, so it looks when the caller asks for work.
func (b *Broker) reap() {
	for _, q := range b.order {
		for _, k := range slices.Clone(q.consumers) {
			if k.ctx.Err() != nil {
				b.stop(k)
			}
		}
	}
}
