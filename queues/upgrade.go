package queues

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// A hub whose queues a release declares with other arguments (a delivery limit, an
// overflow policy, a timer tick) cannot simply be declared again: RabbitMQ refuses a
// redeclaration with other arguments (PRECONDITION_FAILED, a *TopologyMismatchError). The
// upgrade migrates each such queue Q through a holding queue H = Q + ".upgrade":
//
//  1. declare H (a plain quorum queue no one consumes), give it Q's bindings (what the
//     timer ladder hands Q now reaches H) and take them from Q;
//  2. move Q's messages to H: each batch is published with confirms, then acked in Q;
//  3. delete Q, once it has no consumer (quorum queues refuse if-empty and if-unused);
//  4. declare the whole topology: Q again, with the new arguments, and its bindings;
//  5. unbind H and move its messages back to Q the same way (a timer-ladder message back
//     through its level's exchange with its own routing key, which H keeps);
//  6. delete H.
//
// At every moment each message is in Q, in H, or (between a confirm and the ack that
// follows it) in both: a process that dies mid-way loses nothing, and may leave a copy,
// which Warren's message ids make harmless (a control message is recognised as seen, a work
// item runs again as after any redelivery). Running the upgrade again finishes it: a holding
// queue that exists says a migration of its queue is under way, and each step above is
// idempotent. The hub's workers and dispatchers must be stopped (the upgrade refuses a
// queue that has consumers): a process running meanwhile would declare the queue again
// with its own arguments, or hold messages that a delete would drop.

// holdingSuffix names a queue's holding queue during an upgrade.
const holdingSuffix = ".upgrade"

// Headers a message carries while it waits in a holding queue: where it was routed.
const (
	headerUpgradeExchange = "x-warren-upgrade-exchange"
	headerUpgradeKey      = "x-warren-upgrade-key"
)

// ErrHubInUse is returned by UpgradeTopology when a queue it must migrate has consumers.
var ErrHubInUse = errors.New("queues: the hub's queues are in use")

// QueueUpgrade says what an upgrade finds, or did, at one queue of the hub.
type QueueUpgrade struct {
	Queue string
	// State: "differs" (the queue exists with other arguments than this configuration's;
	// Detail says how, in the broker's words), "under way" (a holding queue exists: an
	// upgrade stopped part way), or, after UpgradeTopology, "upgraded".
	State  string
	Detail string
	// Moved counts the messages moved into the holding queue and back (a message moved
	// twice after a crash counts twice).
	Moved int
}

// UpgradeStatus lists the hub's queues whose arguments differ from the configuration's,
// and those whose upgrade stopped part way. Empty means the hub is up to date (or does not
// exist yet). It declares nothing.
func (c *Conn) UpgradeStatus(ctx context.Context) ([]QueueUpgrade, error) {
	conn, err := c.connection(ctx)
	if err != nil {
		return nil, err
	}
	hub := c.cfg.Hub
	// Another partition count or ladder is not an upgrade: those are fixed per hub.
	if err := checkCount(ctx, conn, hub, "control queues (partitions)", func(i int) string { return ControlQueue(hub, i) }, c.cfg.Partitions, MaxPartitions); err != nil {
		return nil, err
	}
	if err := checkCount(ctx, conn, hub, "timer levels", func(i int) string { return delayLevel(hub, i) }, c.cfg.TimerLevels, 64); err != nil {
		return nil, err
	}
	var out []QueueUpgrade
	for _, q := range queueSpecs(c.cfg) {
		u, err := queueState(ctx, conn, q)
		if err != nil {
			return nil, err
		}
		if u.State != "" {
			out = append(out, u)
		}
	}
	return out, nil
}

// queueState compares one queue on the broker with its spec.
func queueState(ctx context.Context, conn *link, q queueSpec) (QueueUpgrade, error) {
	u := QueueUpgrade{Queue: q.name}
	holding, err := queueExists(ctx, conn, q.name+holdingSuffix)
	if err != nil {
		return u, err
	}
	exists, err := queueExists(ctx, conn, q.name)
	if err != nil {
		return u, err
	}
	if exists {
		detail, err := differs(ctx, conn, q)
		if err != nil {
			return u, err
		}
		if detail != "" {
			u.State, u.Detail = "differs", detail
		}
	}
	if holding {
		u.State = "under way"
		if u.Detail == "" {
			u.Detail = "messages wait in " + q.name + holdingSuffix
		}
	}
	return u, nil
}

// differs declares q with its arguments on a channel of its own and returns the broker's
// words when it refuses them ("" when they match).
func differs(ctx context.Context, conn *link, q queueSpec) (string, error) {
	ch, err := conn.channel(ctx)
	if err != nil {
		return "", fmt.Errorf("queues: open channel: %w", err)
	}
	err = conn.do(ctx, "queue.declare", func() error { _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); return err })
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
		return strings.TrimPrefix(ae.Reason, "PRECONDITION_FAILED - "), nil
	}
	conn.closeChannel(ch)
	if err != nil {
		return "", fmt.Errorf("queues: declare queue %q: %w", q.name, err)
	}
	return "", nil
}

// UpgradeTopology migrates every queue of the hub whose arguments differ from the
// configuration's, or whose migration stopped part way, and declares the topology (see
// the comment at the top of this file). It refuses, before it changes anything, while a
// queue it must migrate has consumers (ErrHubInUse), and reports what it did per queue.
func (c *Conn) UpgradeTopology(ctx context.Context) ([]QueueUpgrade, error) {
	todo, err := c.UpgradeStatus(ctx)
	if err != nil || len(todo) == 0 {
		return todo, err
	}
	conn, err := c.connection(ctx)
	if err != nil {
		return nil, err
	}
	var busy []string
	// Dispatchers consume the dead-letter queue: a running one would publish starts and
	// signals to the queues being moved.
	check := []string{DeadLetterQueue(c.cfg.Hub)}
	for _, u := range todo {
		if u.Queue != check[0] {
			check = append(check, u.Queue)
		}
	}
	for _, name := range check {
		q, err := inspectQueue(ctx, conn, name)
		if err != nil {
			return nil, err
		}
		if q != nil && q.Consumers > 0 {
			busy = append(busy, fmt.Sprintf("%s (%d consumers)", name, q.Consumers))
		}
	}
	if len(busy) > 0 {
		return nil, fmt.Errorf("%w: %s; stop the hub's workers and dispatchers, then upgrade", ErrHubInUse, strings.Join(busy, ", "))
	}
	// Steps 1-3 for every queue, so that the whole topology can be declared afterwards.
	for i := range todo {
		n, err := c.emptyInto(ctx, conn, &todo[i])
		todo[i].Moved += n
		if err != nil {
			return todo, err
		}
	}
	// Step 4.
	if err := c.DeclareTopology(ctx); err != nil {
		return todo, err
	}
	// Steps 5-6.
	for i := range todo {
		n, err := c.refill(ctx, conn, todo[i].Queue)
		todo[i].Moved += n
		if err != nil {
			return todo, err
		}
		todo[i].State, todo[i].Detail = "upgraded", ""
	}
	return todo, nil
}

// emptyInto moves a queue that differs into its holding queue and deletes it (steps 1-3).
func (c *Conn) emptyInto(ctx context.Context, conn *link, u *QueueUpgrade) (int, error) {
	holding := u.Queue + holdingSuffix
	if err := declareHolding(ctx, conn, holding); err != nil {
		return 0, err
	}
	q, err := inspectQueue(ctx, conn, u.Queue)
	if err != nil || q == nil {
		return 0, err // deleted already (a run that stopped after step 3)
	}
	if detail, err := differs(ctx, conn, queueSpec{u.Queue, specOf(c.cfg, u.Queue)}); err != nil || detail == "" {
		return 0, err // declared again with the new arguments already (after step 4)
	}
	// What the timer ladder hands the queue goes to the holding queue from now on.
	binds := bindingsOf(c.cfg, u.Queue)
	if err := rebind(ctx, conn, holding, binds, true); err != nil {
		return 0, err
	}
	if err := rebind(ctx, conn, u.Queue, binds, false); err != nil {
		return 0, err
	}
	moved, err := c.move(ctx, conn, u.Queue, func(d *amqp.Delivery) (string, string, amqp.Table) {
		h := copyHeaders(d.Headers)
		h[headerUpgradeExchange], h[headerUpgradeKey] = d.Exchange, d.RoutingKey
		return "", holding, h
	})
	if err != nil {
		return moved, err
	}
	if err := c.step("emptied", u.Queue); err != nil {
		return moved, err
	}
	// Quorum queues refuse if-empty and if-unused deletes (with a connection error): the
	// queue has no binding left and the hub's processes are stopped, so nothing adds to it;
	// its consumers were counted before the move and are counted again now.
	if err := awaitNoConsumer(ctx, conn, u.Queue); err != nil {
		return moved, err
	}
	ch, err := conn.channel(ctx)
	if err != nil {
		return moved, fmt.Errorf("queues: open channel: %w", err)
	}
	defer conn.closeChannel(ch)
	var left int
	if err := conn.do(ctx, "queue.delete", func() (err error) { left, err = ch.QueueDelete(u.Queue, false, false, false); return err }); err != nil {
		return moved, fmt.Errorf("queues: delete queue %q: %w", u.Queue, err)
	}
	if left > 0 {
		// Published straight to it by a process that should have been stopped.
		c.cfg.Logger.Error("queues: upgrade: messages reached a queue during its migration and were deleted with it", "queue", u.Queue, "messages", left)
	}
	return moved, c.step("deleted", u.Queue)
}

// binding is one exchange binding of a queue.
type binding struct{ exchange, key string }

// bindingsOf lists the bindings the topology gives queue: a timer level's to its exchange,
// a destination's to the ladder's last exchange.
func bindingsOf(cfg Config, queue string) []binding {
	var out []binding
	for k := range cfg.TimerLevels {
		if x := delayLevel(cfg.Hub, k); x == queue {
			out = append(out, binding{x, levelPattern(cfg.TimerLevels, k, true)})
		}
	}
	if slices.Contains(destinations(cfg), queue) {
		out = append(out, binding{delayDeliver(cfg.Hub), deliverPattern(cfg.TimerLevels, queue)})
	}
	return out
}

// rebind binds queue (bind) or unbinds it (!bind) with binds.
func rebind(ctx context.Context, conn *link, queue string, binds []binding, bind bool) error {
	if len(binds) == 0 {
		return nil
	}
	ch, err := conn.channel(ctx)
	if err != nil {
		return fmt.Errorf("queues: open channel: %w", err)
	}
	defer conn.closeChannel(ch)
	for _, b := range binds {
		var err error
		if bind {
			err = conn.do(ctx, "queue.bind", func() error { return ch.QueueBind(queue, b.key, b.exchange, false, nil) })
		} else {
			err = conn.do(ctx, "queue.unbind", func() error { return ch.QueueUnbind(queue, b.key, b.exchange, nil) })
		}
		if err != nil {
			return fmt.Errorf("queues: (un)bind %q at %q: %w", queue, b.exchange, err)
		}
	}
	return nil
}

// refill moves a holding queue's messages back to their queue and deletes it (steps 5-6).
func (c *Conn) refill(ctx context.Context, conn *link, queue string) (int, error) {
	holding := queue + holdingSuffix
	exists, err := queueExists(ctx, conn, holding)
	if err != nil || !exists {
		return 0, err
	}
	// The queue has its bindings again (step 4): the holding queue gives its up, so that
	// nothing reaches it after the move below.
	if err := rebind(ctx, conn, holding, bindingsOf(c.cfg, queue), false); err != nil {
		return 0, err
	}
	ladder := strings.HasPrefix(queue, hubOrDefault(c.cfg.Hub)+".delay.")
	n, err := c.move(ctx, conn, holding, func(d *amqp.Delivery) (string, string, amqp.Table) {
		h := copyHeaders(d.Headers)
		key, moved := h[headerUpgradeKey].(string)
		if !moved {
			key = d.RoutingKey // routed to the holding queue by the ladder
		}
		delete(h, headerUpgradeExchange)
		delete(h, headerUpgradeKey)
		if ladder && key != "" {
			// Back through the level's exchange, so that it keeps its routing key (the
			// delay it still has to wait is spelled in it); it waits its level's time again.
			return queue, key, h
		}
		return "", queue, h
	})
	if err != nil {
		return n, err
	}
	if err := c.step("refilled", queue); err != nil {
		return n, err
	}
	ch, err := conn.channel(ctx)
	if err != nil {
		return n, fmt.Errorf("queues: open channel: %w", err)
	}
	defer conn.closeChannel(ch)
	if err := conn.do(ctx, "queue.delete", func() error { _, err := ch.QueueDelete(holding, false, false, false); return err }); err != nil {
		return n, fmt.Errorf("queues: delete queue %q: %w", holding, err)
	}
	return n, nil
}

// move takes every message ready in from and publishes it where route says, with the
// headers route gives, in batches: each batch is confirmed by the broker before it is acked
// in from. A failure leaves the batch unacked, so it goes back to from when the channel
// closes (and may also have reached its destination: a copy, never a loss).
func (c *Conn) move(ctx context.Context, conn *link, from string, route func(*amqp.Delivery) (exchange, key string, headers amqp.Table)) (int, error) {
	get, err := conn.channel(ctx)
	if err != nil {
		return 0, fmt.Errorf("queues: open channel: %w", err)
	}
	defer conn.closeChannel(get)
	pub, err := conn.channel(ctx)
	if err != nil {
		return 0, fmt.Errorf("queues: open channel: %w", err)
	}
	defer conn.closeChannel(pub)
	if err := conn.do(ctx, "confirm.select", func() error { return pub.Confirm(false) }); err != nil {
		return 0, fmt.Errorf("queues: confirm mode: %w", err)
	}
	returns := pub.NotifyReturn(make(chan amqp.Return, 1))
	// A consumer, not basic.get, which quorum queues with a single active consumer refuse.
	if err := conn.do(ctx, "basic.qos", func() error { return get.Qos(moveBatch, 0, false) }); err != nil {
		return 0, fmt.Errorf("queues: qos: %w", err)
	}
	var deliveries <-chan amqp.Delivery
	if err := conn.do(ctx, "basic.consume", func() (err error) {
		deliveries, err = get.Consume(from, moveConsumer, false, false, false, false, nil)
		return err
	}); err != nil {
		return 0, fmt.Errorf("queues: consume %q: %w", from, err)
	}
	defer func() { _ = conn.do(ctx, "basic.cancel", func() error { return get.Cancel(moveConsumer, false) }) }()
	moved := 0
	for {
		batch, err := collect(ctx, deliveries, moveBatch)
		if err != nil {
			return moved, fmt.Errorf("queues: moving from %q: %w", from, err)
		}
		if len(batch) == 0 {
			return moved, nil
		}
		var dcs []*amqp.DeferredConfirmation
		for i := range batch {
			d := &batch[i]
			exchange, key, headers := route(d)
			p := amqp.Publishing{Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
				DeliveryMode: amqp.Persistent, Priority: d.Priority, CorrelationId: d.CorrelationId, ReplyTo: d.ReplyTo,
				Expiration: d.Expiration, MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type,
				UserId: d.UserId, AppId: d.AppId, Body: d.Body}
			var dc *amqp.DeferredConfirmation
			err := conn.do(ctx, "basic.publish", func() (err error) {
				dc, err = pub.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, p)
				return err
			})
			if err != nil {
				return moved, fmt.Errorf("queues: publish to %q: %w", key, err)
			}
			dcs = append(dcs, dc)
		}
		for _, dc := range dcs {
			var ok bool
			if err := conn.do(ctx, "confirm", func() (err error) { ok, err = dc.WaitContext(ctx); return err }); err != nil || !ok {
				return moved, fmt.Errorf("queues: the broker did not confirm a message moved from %q (%v)", from, err)
			}
		}
		select {
		case r := <-returns:
			return moved, fmt.Errorf("queues: a message moved from %q was unroutable at %q %q: %s", from, r.Exchange, r.RoutingKey, r.ReplyText)
		default:
		}
		if err := c.step("moved", from); err != nil {
			return moved, err
		}
		last := batch[len(batch)-1].DeliveryTag
		if err := conn.do(ctx, "basic.ack", func() error { return get.Ack(last, true) }); err != nil {
			return moved, fmt.Errorf("queues: ack in %q: %w", from, err)
		}
		moved += len(batch)
	}
}

// moveConsumer is the consumer tag of a move.
const moveConsumer = "warren-upgrade"

// awaitNoConsumer fails with ErrHubInUse when queue keeps a consumer for a second (the
// broker counts a cancelled consumer, such as a move's own, for a moment after).
func awaitNoConsumer(ctx context.Context, conn *link, queue string) error {
	for i := 0; ; i++ {
		q, err := inspectQueue(ctx, conn, queue)
		if err != nil || q == nil || q.Consumers == 0 {
			return err
		}
		if i == 10 {
			return fmt.Errorf("%w: %s has %d consumers; stop the hub's workers and dispatchers, then upgrade again", ErrHubInUse, queue, q.Consumers)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// moveBatch is how many messages move between two confirms.
const moveBatch = 100

// moveIdle is how long a move waits for another message before it takes its queue for
// empty (a consumer cannot ask; what arrives later is found by the if-empty delete).
const moveIdle = 300 * time.Millisecond

// collect takes up to n deliveries, as long as the next comes within moveIdle.
func collect(ctx context.Context, deliveries <-chan amqp.Delivery, n int) ([]amqp.Delivery, error) {
	var batch []amqp.Delivery
	idle := time.NewTimer(moveIdle)
	defer idle.Stop()
	for len(batch) < n {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return nil, errors.New("the broker closed the channel")
			}
			batch = append(batch, d)
			if !idle.Stop() {
				<-idle.C
			}
			idle.Reset(moveIdle)
		case <-idle.C:
			return batch, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return batch, nil
}

// step lets a test stop an upgrade at a point of its progress, as a crash would.
func (c *Conn) step(point, queue string) error {
	if c.upgradeStep == nil {
		return nil
	}
	return c.upgradeStep(point, queue)
}

// declareHolding declares a holding queue: quorum, durable, no limit, no dead-lettering.
func declareHolding(ctx context.Context, conn *link, name string) error {
	ch, err := conn.channel(ctx)
	if err != nil {
		return fmt.Errorf("queues: open channel: %w", err)
	}
	defer conn.closeChannel(ch)
	return conn.do(ctx, "queue.declare", func() error {
		_, err := ch.QueueDeclare(name, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
		return err
	})
}

// inspectQueue answers a passive declare of name, nil when it does not exist.
func inspectQueue(ctx context.Context, conn *link, name string) (*amqp.Queue, error) {
	ch, err := conn.channel(ctx)
	if err != nil {
		return nil, fmt.Errorf("queues: open channel: %w", err)
	}
	var q amqp.Queue
	err = conn.do(ctx, "queue.declare (passive)", func() (err error) {
		q, err = ch.QueueDeclarePassive(name, true, false, false, false, nil)
		return err
	})
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.NotFound {
		return nil, nil
	}
	conn.closeChannel(ch)
	if err != nil {
		return nil, fmt.Errorf("queues: check queue %q: %w", name, err)
	}
	return &q, nil
}

// specOf is the arguments cfg gives queue (nil for a name not of the hub).
func specOf(cfg Config, queue string) amqp.Table {
	for _, q := range queueSpecs(cfg) {
		if q.name == queue {
			return q.args
		}
	}
	return nil
}

// copyHeaders copies h without the broker's count of deliveries, which belongs to the
// queue the message leaves.
func copyHeaders(h amqp.Table) amqp.Table {
	out := amqp.Table{}
	for k, v := range h {
		if k != "x-delivery-count" {
			out[k] = v
		}
	}
	return out
}
