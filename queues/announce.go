package queues

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Announcements are notices for whoever listens — a dispatcher's waiters learn that an
// instance has ended from one instead of by polling the store. They go through a fanout
// exchange per hub; each listener has a queue of its own bound to it, which the broker
// deletes a minute after its listener is gone. Nobody listening is not an error.

// listenerExpiry is how long a listener's queue outlives its last consumer.
const listenerExpiry = time.Minute

// AnnounceExchange is the hub's fanout exchange of announcements.
func AnnounceExchange(hub string) string { return hubOrDefault(hub) + ".announce" }

// Announce publishes msgs to every listener of the hub, with confirms but without the
// mandatory flag: a notice nobody listens for is dropped.
func (c *Conn) Announce(ctx context.Context, msgs ...Message) error {
	x := AnnounceExchange(c.cfg.Hub)
	return c.publish(ctx, x, "", x, time.Time{}, msgs)
}

// Listen declares the listener queue `<hub>.announce.<name>`, binds it to the hub's
// announcements and consumes it like Consume. name must be unique per listening process.
// The queue is declared and bound again before every subscription after a reconnect: a
// broker that stayed up while the listener was cut off for over a minute has deleted it.
// It is not durable: in a cluster, the node that held it may die, and a durable classic
// queue would stay declared on that node (every declare refused, "home node ... is down")
// until it came back, while a transient one is forgotten and declared anew on a live node.
func (c *Conn) Listen(ctx context.Context, name string, handle func(*Delivery)) (*Consumer, error) {
	x := AnnounceExchange(c.cfg.Hub)
	q := x + "." + name
	prepare := func(ctx context.Context, conn *link) error {
		ch, err := conn.channel(ctx)
		if err != nil {
			return fmt.Errorf("queues: listen on %q: %w", q, err)
		}
		defer conn.closeChannel(ch)
		args := amqp.Table{"x-expires": listenerExpiry.Milliseconds(), "x-message-ttl": listenerExpiry.Milliseconds()}
		if err := conn.do(ctx, "queue.declare", func() error {
			_, err := ch.QueueDeclare(q, false, false, false, false, args)
			return err
		}); err != nil {
			return fmt.Errorf("queues: declare listener queue %q: %w", q, err)
		}
		if err := conn.do(ctx, "queue.bind", func() error { return ch.QueueBind(q, "", x, false, nil) }); err != nil {
			return fmt.Errorf("queues: bind listener queue %q: %w", q, err)
		}
		return nil
	}
	return c.consumeWith(ctx, q, 256, prepare, handle)
}

// StopListening deletes the listener queue of name (a listener that stops cleanly; one that
// dies leaves it to expire).
func (c *Conn) StopListening(ctx context.Context, name string) error {
	conn, err := c.connection(ctx)
	if err != nil {
		return err
	}
	ch, err := conn.channel(ctx)
	if err != nil {
		return fmt.Errorf("queues: stop listening: %w", err)
	}
	defer conn.closeChannel(ch)
	q := AnnounceExchange(c.cfg.Hub) + "." + name
	if err := conn.do(ctx, "queue.delete", func() error {
		_, err := ch.QueueDelete(q, false, false, false)
		return err
	}); err != nil {
		return fmt.Errorf("queues: delete listener queue %q: %w", q, err)
	}
	return nil
}
