package queues

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrTopologyMismatch is matched (errors.Is) by a *TopologyMismatchError.
var ErrTopologyMismatch = errors.New("queues: the hub exists on the broker with other settings")

// TopologyMismatchError says that a hub's queues exist with other arguments, or another
// partition count or ladder, than the Config asks for.
type TopologyMismatchError struct {
	Hub    string
	Queue  string // the queue that differs
	Detail string // what differs, in the broker's words when it said it
	// Count is set when the partition count or the ladder differs, which no upgrade changes.
	Count bool
}

func (e *TopologyMismatchError) Error() string {
	if e.Count {
		return fmt.Sprintf("queues: hub %q on the broker does not match this configuration at queue %q: %s (start with the hub's settings, or delete the hub's queues)", e.Hub, e.Queue, e.Detail)
	}
	return fmt.Sprintf("queues: hub %q on the broker does not match this configuration at queue %q: %s (start with the hub's settings; or, to move the hub to this configuration, stop its processes and run `client hub upgrade`)", e.Hub, e.Queue, e.Detail)
}

func (e *TopologyMismatchError) Is(target error) bool { return target == ErrTopologyMismatch }

// DeclareTopology declares the hub's queues, exchanges and bindings; it is idempotent and
// is repeated after every reconnect. A hub that exists with other arguments, another
// partition count or another ladder fails with a *TopologyMismatchError. Because the count
// check sees queues that another process (a worker, a dispatcher) is declaring at the same
// moment, a mismatch is tried again for a few seconds before it counts as real.
func (c *Conn) DeclareTopology(ctx context.Context) error {
	conn, err := c.connection(ctx)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err = declare(ctx, conn, c.cfg)
		if err == nil || !errors.Is(err, ErrTopologyMismatch) || attempt == 6 {
			break
		}
		c.cfg.Logger.Debug("queue topology mismatch; trying again in case another process is declaring it", "err", err)
		select {
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.declared = true
	c.mu.Unlock()
	return nil
}

// DeleteTopology deletes every queue (with its messages) and exchange of the hub. Tests use
// it to leave the broker as they found it.
func (c *Conn) DeleteTopology(ctx context.Context) error {
	conn, err := c.connection(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.declared = false
	c.mu.Unlock()
	hub := c.cfg.Hub
	partitions, err := count(ctx, conn, func(i int) string { return ControlQueue(hub, i) }, c.cfg.Partitions, MaxPartitions)
	if err != nil {
		return err
	}
	levels, err := count(ctx, conn, func(i int) string { return delayLevel(hub, i) }, c.cfg.TimerLevels, 64)
	if err != nil {
		return err
	}
	partitions, levels = max(partitions, c.cfg.Partitions), max(levels, c.cfg.TimerLevels)
	ch, err := conn.channel(ctx)
	if err != nil {
		return fmt.Errorf("queues: delete hub %q: %w", hub, err)
	}
	defer func() { conn.closeChannel(ch) }()
	names := []string{WorkItemQueue(hub), DeadLetterQueue(hub)}
	for p := range partitions {
		names = append(names, ControlQueue(hub, p))
	}
	for k := range levels {
		names = append(names, delayLevel(hub, k))
	}
	var errs []error
	for _, q := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := conn.do(ctx, "queue.delete", func() error { _, err := ch.QueueDelete(q, false, false, false); return err }); err != nil {
			errs = append(errs, fmt.Errorf("delete queue %q: %w", q, err))
			if ch, err = conn.channel(ctx); err != nil {
				return errors.Join(errs...)
			}
		}
	}
	exchanges := []string{AnnounceExchange(hub), delayDeliver(hub)}
	for k := range levels {
		exchanges = append(exchanges, delayLevel(hub, k))
	}
	for _, x := range exchanges {
		if err := conn.do(ctx, "exchange.delete", func() error { return ch.ExchangeDelete(x, false, false) }); err != nil {
			errs = append(errs, fmt.Errorf("delete exchange %q: %w", x, err))
			if ch, err = conn.channel(ctx); err != nil {
				return errors.Join(errs...)
			}
		}
	}
	return errors.Join(errs...)
}

type queueSpec struct {
	name string
	args amqp.Table
}

// queueSpecs lists every queue of the hub with its arguments.
func queueSpecs(cfg Config) []queueSpec {
	hub := cfg.Hub
	var specs []queueSpec
	for p := range cfg.Partitions {
		specs = append(specs, queueSpec{ControlQueue(hub, p), amqp.Table{
			"x-queue-type":              "quorum",
			"x-single-active-consumer":  true,
			"x-delivery-limit":          int64(cfg.ControlDeliveryLimit),
			"x-dead-letter-exchange":    "",
			"x-dead-letter-routing-key": DeadLetterQueue(hub),
			"x-dead-letter-strategy":    "at-least-once",
			"x-overflow":                "reject-publish",
		}})
	}
	specs = append(specs,
		queueSpec{WorkItemQueue(hub), amqp.Table{
			"x-queue-type":              "quorum",
			"x-delivery-limit":          int64(cfg.DeliveryLimit),
			"x-dead-letter-exchange":    "",
			"x-dead-letter-routing-key": DeadLetterQueue(hub),
			"x-dead-letter-strategy":    "at-least-once",
			"x-overflow":                "reject-publish",
		}},
		queueSpec{DeadLetterQueue(hub), amqp.Table{"x-queue-type": "quorum"}},
	)
	for k := range cfg.TimerLevels {
		specs = append(specs, queueSpec{delayLevel(hub, k), amqp.Table{
			"x-queue-type":           "quorum",
			"x-message-ttl":          (int64(1) << k) * cfg.TimerTick.Milliseconds(),
			"x-dead-letter-exchange": lowerLevel(hub, k),
			"x-dead-letter-strategy": "at-least-once",
			"x-overflow":             "reject-publish",
		}})
	}
	return specs
}

// lowerLevel is the exchange a message goes to when it leaves level k.
func lowerLevel(hub string, k int) string {
	if k == 0 {
		return delayDeliver(hub)
	}
	return delayLevel(hub, k-1)
}

// destinations are the queues a scheduled message may be delivered to.
func destinations(cfg Config) []string {
	out := []string{WorkItemQueue(cfg.Hub), DeadLetterQueue(cfg.Hub)}
	for p := range cfg.Partitions {
		out = append(out, ControlQueue(cfg.Hub, p))
	}
	return out
}

func declare(ctx context.Context, conn *link, cfg Config) error {
	hub := cfg.Hub
	if err := checkCount(ctx, conn, hub, "control queues (partitions)", func(i int) string { return ControlQueue(hub, i) }, cfg.Partitions, MaxPartitions); err != nil {
		return err
	}
	if err := checkCount(ctx, conn, hub, "timer levels", func(i int) string { return delayLevel(hub, i) }, cfg.TimerLevels, 64); err != nil {
		return err
	}
	ch, err := conn.channel(ctx)
	if err != nil {
		return fmt.Errorf("queues: declare hub %q: %w", hub, err)
	}
	defer conn.closeChannel(ch)
	do := func(what string, fn func() error) error { return conn.do(ctx, what, fn) }
	// The ladder: level k's exchange keeps messages whose bit k is set in its queue and passes
	// the others down; the queue dead-letters expired messages to the level below.
	// The exchanges come first: a level queue whose dead-letter exchange is missing when it
	// first expires a message makes the broker warn.
	if err := do("exchange.declare", func() error {
		return ch.ExchangeDeclare(AnnounceExchange(hub), amqp.ExchangeFanout, true, false, false, false, nil)
	}); err != nil {
		return fmt.Errorf("queues: declare exchange %q: %w", AnnounceExchange(hub), err)
	}
	if err := do("exchange.declare", func() error {
		return ch.ExchangeDeclare(delayDeliver(hub), amqp.ExchangeTopic, true, false, false, false, nil)
	}); err != nil {
		return fmt.Errorf("queues: declare exchange %q: %w", delayDeliver(hub), err)
	}
	for k := range cfg.TimerLevels {
		x := delayLevel(hub, k)
		if err := do("exchange.declare", func() error { return ch.ExchangeDeclare(x, amqp.ExchangeTopic, true, false, false, false, nil) }); err != nil {
			return fmt.Errorf("queues: declare exchange %q: %w", x, err)
		}
	}
	for _, q := range queueSpecs(cfg) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := do("queue.declare", func() error { _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); return err }); err != nil {
			var ae *amqp.Error
			if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
				return &TopologyMismatchError{Hub: hub, Queue: q.name, Detail: strings.TrimPrefix(ae.Reason, "PRECONDITION_FAILED - ")}
			}
			return fmt.Errorf("queues: declare queue %q: %w", q.name, err)
		}
	}
	for k := range cfg.TimerLevels {
		x := delayLevel(hub, k)
		if err := do("queue.bind", func() error { return ch.QueueBind(x, levelPattern(cfg.TimerLevels, k, true), x, false, nil) }); err != nil {
			return fmt.Errorf("queues: bind queue %q: %w", x, err)
		}
		if err := do("exchange.bind", func() error {
			return ch.ExchangeBind(lowerLevel(hub, k), levelPattern(cfg.TimerLevels, k, false), x, false, nil)
		}); err != nil {
			return fmt.Errorf("queues: bind exchange %q to %q: %w", x, lowerLevel(hub, k), err)
		}
	}
	for _, q := range destinations(cfg) {
		if err := do("queue.bind", func() error {
			return ch.QueueBind(q, deliverPattern(cfg.TimerLevels, q), delayDeliver(hub), false, nil)
		}); err != nil {
			return fmt.Errorf("queues: bind queue %q to %q: %w", q, delayDeliver(hub), err)
		}
	}
	return nil
}

// checkCount compares how many of name(0), name(1), ... exist on the broker with want; a
// hub that does not exist yet passes.
func checkCount(ctx context.Context, conn *link, hub, what string, name func(int) string, want, limit int) error {
	have, err := count(ctx, conn, name, want, limit)
	if err != nil || have == 0 || have == want {
		return err
	}
	q := name(want)
	if have < want {
		q = name(have)
	}
	return &TopologyMismatchError{Hub: hub, Queue: q, Count: true,
		Detail: fmt.Sprintf("the hub has %d %s (%s to %s) but this configuration asks for %d", have, what, name(0), name(have-1), want)}
}

// count finds n such that name(0..n-1) exist and name(n) does not, probing around guess.
func count(ctx context.Context, conn *link, name func(int) string, guess, limit int) (int, error) {
	exists := func(i int) (bool, error) { return queueExists(ctx, conn, name(i)) }
	ok, err := exists(0)
	if err != nil || !ok {
		return 0, err
	}
	// Invariant: name(lo) exists, name(hi) does not (or hi == limit).
	lo, hi := 0, limit
	if guess > 0 && guess <= limit {
		if ok, err = exists(guess - 1); err != nil {
			return 0, err
		} else if ok {
			if guess == limit {
				return limit, nil
			}
			if ok, err = exists(guess); err != nil {
				return 0, err
			} else if !ok {
				return guess, nil
			}
			lo = guess
		} else {
			hi = guess - 1
		}
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := exists(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1, nil
}

// queueExists asks the broker with a passive declare, on a channel of its own because a
// missing queue closes the channel.
func queueExists(ctx context.Context, conn *link, name string) (bool, error) {
	q, err := inspectQueue(ctx, conn, name)
	return q != nil, err
}
