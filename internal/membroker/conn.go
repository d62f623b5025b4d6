package membroker

import (
	"context"

	"github.com/warrenhq/warren/queues"
)

// Conn is one client connection: a worker's or a dispatcher's. It has the methods of
// worker.Broker (Consume returns a *Consumer, which the simulation adapts) and of
// dispatcher.Broker.
type Conn struct {
	b    *Broker
	name string
	// Guarded by b.mu.
	closed    bool
	consumers []*Consumer
}

// Connect opens a connection; name identifies it in FaultPoint.
func (b *Broker) Connect(name string) *Conn { return &Conn{b: b, name: name} }

// Name is the name given to Connect.
func (c *Conn) Name() string { return c.name }

// Close drops the connection, as when its process dies or its TCP connection breaks: its
// consumers stop and their unsettled deliveries go back to their queues (redelivered, their
// delivery count raised). Every later call through it fails with ErrClosed. Closing twice
// is a no-op.
func (c *Conn) Close() error {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	for len(c.consumers) > 0 {
		b.stop(c.consumers[0])
	}
	return nil
}

// Announce records msgs as announced to every listener; the broker has no listeners, so
// they go nowhere else (see Announced).
func (c *Conn) Announce(ctx context.Context, msgs ...queues.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	b := c.b
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	msgs = b.stamp(msgs, now)
	if err := c.usable(ctx); err != nil {
		return unconfirmed(queues.AnnounceExchange(b.opts.Hub), msgs, err)
	}
	b.announced = append(b.announced, msgs...)
	return nil
}

// usable says why the connection cannot be used now, if it cannot.
func (c *Conn) usable(ctx context.Context) error {
	if c.closed {
		return ErrClosed
	}
	return ctx.Err()
}
