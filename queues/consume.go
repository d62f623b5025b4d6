package queues

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Delivery is one message handed to a consumer. Ack, Nack and DeadLetter settle it; a
// delivery still unsettled when its consumer stops or its connection drops goes back to the
// queue and is delivered again.
type Delivery struct {
	Message
	// Queue is the queue it was consumed from.
	Queue string
	// Redelivered is set when the broker delivered the message before (the consumer died
	// or nacked it).
	Redelivered bool
	// DeliveryCount counts the broker's deliveries of this message, this one included (1 on
	// the first); quorum queues dead-letter work items past Config.DeliveryLimit.
	DeliveryCount int
	// Due is when a scheduled message was due (zero for a plain message).
	Due time.Time

	settler Settler
}

// Settler is the broker side of a delivery: what Ack, Nack and DeadLetter ask of it.
// RabbitMQ's deliveries settle through the connection that consumed them; another broker
// (the simulation's) builds its deliveries with NewDelivery and a Settler of its own.
type Settler interface {
	Ack() error
	Nack(requeue bool) error
	DeadLetter(reason string) error
}

// NewDelivery returns a delivery that settles through s.
func NewDelivery(m Message, queue string, redelivered bool, deliveryCount int, s Settler) *Delivery {
	return &Delivery{Message: m, Queue: queue, Redelivered: redelivered, DeliveryCount: deliveryCount, settler: s}
}

// Settler returns what settles the delivery (the one given to NewDelivery, for a delivery
// built that way).
func (d *Delivery) Settler() Settler { return d.settler }

// Ack tells the broker the message is done with.
func (d *Delivery) Ack() error { return d.settler.Ack() }

// Nack gives the message back: requeue puts it back in its queue (counting a delivery),
// otherwise the queue's dead-letter settings apply.
func (d *Delivery) Nack(requeue bool) error { return d.settler.Nack(requeue) }

// DeadLetter publishes the message to the hub's dead-letter queue with reason (header
// x-warren-reason) and the queue it came from (x-warren-source-queue), then acks it. If the
// publish fails, the message stays unacked and the error is returned.
func (d *Delivery) DeadLetter(reason string) error { return d.settler.DeadLetter(reason) }

// Stale reports whether the delivery can no longer be settled: the channel or connection
// it came on has gone, so the broker has taken the message back and will deliver it again.
// A consumer that keeps deliveries for later drops stale ones.
func (d *Delivery) Stale() bool {
	s, ok := d.settler.(interface{ Stale() bool })
	return ok && s.Stale()
}

// amqpSettler settles a RabbitMQ delivery through the subscription it came on.
type amqpSettler struct {
	d    *Delivery
	raw  amqp.Delivery
	conn *Conn
	sub  *subscription
}

func (s *amqpSettler) Ack() error {
	return s.sub.settle(func() error {
		if s.sub.acks == nil {
			return s.raw.Ack(false)
		}
		s.sub.acks.ack(s.raw.DeliveryTag)
		return nil
	})
}

func (s *amqpSettler) Stale() bool {
	ch, ok := s.raw.Acknowledger.(*amqp.Channel)
	return ok && ch.IsClosed() || s.sub.isClosing()
}

func (s *amqpSettler) Nack(requeue bool) error {
	return s.sub.settle(func() error {
		if s.sub.acks != nil {
			s.sub.acks.settled(s.raw.DeliveryTag)
		}
		return s.raw.Nack(false, requeue)
	})
}

func (s *amqpSettler) DeadLetter(reason string) error {
	d := s.d
	m := d.Message
	m.Reason = reason
	p := m.publishing(time.Time{})
	p.Headers[headerSourceQueue] = d.Queue
	if p.MessageId == "" {
		p.MessageId = newID()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dlq := DeadLetterQueue(s.conn.cfg.Hub)
	if err := s.conn.publishRaw(ctx, dlq, []amqp.Publishing{p}); err != nil {
		return fmt.Errorf("queues: dead-letter message %q from %s: %w", p.MessageId, d.Queue, err)
	}
	return s.Ack()
}

// Consumer is a subscription made by Consume.
type Consumer struct {
	queue  string
	cancel context.CancelFunc
	done   chan struct{}
}

// Cancel stops the consumer and waits until its handler has returned and its channel is
// closed (on a broker that does not answer, until Config.OperationTimeout drops the
// connection); deliveries it did not settle go back to the queue. Do not call it from the
// handler itself.
func (k *Consumer) Cancel() error {
	k.cancel()
	<-k.done
	return nil
}

// Done is closed when the consumer has stopped (Cancel, its ctx, or Conn.Close).
func (k *Consumer) Done() <-chan struct{} { return k.done }

// Consume subscribes to queue with the given prefetch and manual acks, and calls handle for
// each delivery, in order, from one goroutine. It returns an error when the first
// subscription fails (a missing queue); later it survives reconnects by subscribing again.
// It stops when ctx ends, on Cancel or on Close.
//
// A scheduled message that arrives before its due time (a delay longer than the ladder,
// clocks that disagree) never reaches handle: it is scheduled again for the rest of its
// delay and acked.
func (c *Conn) Consume(ctx context.Context, queue string, prefetch int, handle func(*Delivery)) (*Consumer, error) {
	return c.consumeWith(ctx, queue, prefetch, nil, handle)
}

// consumeWith is Consume with prepare, which runs before every subscription (the first and
// those after a reconnect) on the connection it is made on, e.g. to declare the queue.
func (c *Conn) consumeWith(ctx context.Context, queue string, prefetch int, prepare func(context.Context, *link) error, handle func(*Delivery)) (*Consumer, error) {
	if prefetch < 1 {
		prefetch = 1
	}
	sub, err := c.subscribe(ctx, queue, prefetch, prepare)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	k := &Consumer{queue: queue, cancel: cancel, done: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(k.done)
		defer cancel()
		c.consume(cctx, queue, prefetch, prepare, handle, sub)
	}()
	return k, nil
}

// errChannelClosing is what settling a delivery returns once its consumer's channel is
// being closed: the broker takes the message back with the channel and delivers it again.
var errChannelClosing = fmt.Errorf("queues: the delivery's channel is closing; the broker will deliver it again: %w", amqp.ErrClosed)

// subscription is one consumer's channel and its deliveries.
type subscription struct {
	conn       *link
	ch         *amqp.Channel
	tag        string // the consumer's tag on ch
	deliveries <-chan amqp.Delivery

	// settling is held (shared) while an ack or nack is being sent, and taken to mark the
	// channel closing. An ack that reaches the broker after the channel's close is a
	// connection error there (504 CHANNEL_ERROR - expected 'channel.open'), which would
	// take every consumer and publisher of the connection down with it; deliveries are
	// settled from other goroutines (a worker's episode loop) while a consumer is cancelled.
	settling sync.RWMutex
	closing  bool
	// acks gathers the channel's acks into multiple acks (acks.go); nil with a prefetch
	// of one, where each ack lets the next delivery come and has none to go with.
	acks *ackCoalescer
}

// settle sends an ack or nack unless the channel is closing.
func (s *subscription) settle(send func() error) error {
	s.settling.RLock()
	defer s.settling.RUnlock()
	if s.closing {
		return errChannelClosing
	}
	return send()
}

func (s *subscription) isClosing() bool {
	s.settling.RLock()
	defer s.settling.RUnlock()
	return s.closing
}

// close closes the channel once no ack or nack is on its way, and lets none start after.
// Waiting for those is bounded like the close itself: a connection that does not take
// them within the operation timeout is dropped, which ends them.
//
// Between the last acks and the close it cancels the consumer and waits for the answer.
// RabbitMQ takes an ack on a quorum queue as a command through the queue's log, and a
// channel with 32 such commands not yet applied keeps further acks back until some are;
// acks still kept back when the channel closes are dropped, and their messages come
// again (seen under load: 9 to 31 of 284 acks sent one by one just before the close).
// A consumer's cancel is a synchronous command through the same log: once it is
// answered, the commands before it are applied and the acks kept back are on their way,
// ahead of the close.
func (s *subscription) close() {
	if s == nil || s.ch.IsClosed() {
		return
	}
	_ = s.conn.do(context.Background(), "channel.close", func() error {
		s.settling.Lock()
		if !s.closing && s.acks != nil {
			_ = s.acks.sendPending() // what was acked goes before the channel does
		}
		s.closing = true
		s.settling.Unlock()
		_ = s.ch.Cancel(s.tag, false)
		return s.ch.Close()
	})
}

func (c *Conn) subscribe(ctx context.Context, queue string, prefetch int, prepare func(context.Context, *link) error) (*subscription, error) {
	conn, err := c.connection(ctx)
	if err != nil {
		return nil, err
	}
	if prepare != nil {
		if err := prepare(ctx, conn); err != nil {
			return nil, err
		}
	}
	ch, err := conn.channel(ctx)
	if err != nil {
		if conn.IsClosed() {
			c.markDown(conn.gen)
		}
		return nil, fmt.Errorf("queues: consume %q: open channel: %w", queue, err)
	}
	if err := conn.do(ctx, "basic.qos", func() error { return ch.Qos(prefetch, 0, false) }); err != nil {
		conn.closeChannel(ch)
		return nil, fmt.Errorf("queues: consume %q: prefetch %d: %w", queue, prefetch, err)
	}
	var deliveries <-chan amqp.Delivery
	tag := "warren-" + newID()
	err = conn.do(ctx, "basic.consume", func() (err error) {
		deliveries, err = ch.Consume(queue, tag, false, false, false, false, nil)
		return err
	})
	if err != nil {
		conn.closeChannel(ch)
		return nil, fmt.Errorf("queues: consume %q: %w", queue, err)
	}
	sub := &subscription{conn: conn, ch: ch, tag: tag, deliveries: deliveries}
	if prefetch > 1 {
		sub.acks = newAckCoalescer(ch.Ack)
		sub.acks.flush = func() { _ = sub.settle(sub.acks.sendPending) }
	}
	return sub, nil
}

// consume runs a consumer: it hands deliveries to handle and subscribes again when the
// channel or connection goes away.
func (c *Conn) consume(ctx context.Context, queue string, prefetch int, prepare func(context.Context, *link) error, handle func(*Delivery), sub *subscription) {
	fromDLQ := queue == DeadLetterQueue(c.cfg.Hub)
	defer func() { sub.close() }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case raw, ok := <-sub.deliveries:
			if ok {
				c.dispatch(ctx, sub, queue, fromDLQ, raw, handle)
				continue
			}
		}
		// The channel is gone: its unacked deliveries are back in the queue.
		sub.close()
		sub = nil
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = 50 * time.Millisecond
		b.MaxInterval = c.cfg.ReconnectMaxInterval
		b.MaxElapsedTime = 0
		for sub == nil {
			var err error
			sub, err = c.subscribe(ctx, queue, prefetch, prepare)
			if err == nil {
				c.cfg.Logger.Info("queues: consumer subscribed again", "queue", queue)
				break
			}
			if ctx.Err() != nil || err == ErrClosed {
				return
			}
			c.cfg.Logger.Warn("queues: consumer cannot subscribe yet", "queue", queue, "err", err)
			select {
			case <-time.After(b.NextBackOff()):
			case <-ctx.Done():
				return
			case <-c.done:
				return
			}
		}
	}
}

func (c *Conn) dispatch(ctx context.Context, sub *subscription, queue string, fromDLQ bool, raw amqp.Delivery, handle func(*Delivery)) {
	d := &Delivery{
		Message:       messageOf(&raw, fromDLQ),
		Queue:         queue,
		Redelivered:   raw.Redelivered,
		DeliveryCount: int(headerInt(raw.Headers, "x-delivery-count")) + 1,
	}
	d.settler = &amqpSettler{d: d, raw: raw, conn: c, sub: sub}
	if sub.acks != nil {
		sub.acks.delivered(raw.DeliveryTag)
	}
	if ms := headerInt(raw.Headers, headerDue); ms != 0 {
		d.Due = time.UnixMilli(ms)
		if time.Now().Before(d.Due) && !fromDLQ { // a dead letter is not a timer any more
			c.rearm(ctx, d)
			return
		}
	}
	handle(d)
}

// rearm schedules a message that arrived early again for the rest of its delay.
func (c *Conn) rearm(ctx context.Context, d *Delivery) {
	c.cfg.Logger.Debug("queues: timer arrived early; re-arming", "queue", d.Queue, "id", d.ID, "due", d.Due)
	p := d.Message.publishing(d.Due)
	if err := c.scheduleRaw(ctx, d.Queue, d.Due, p); err != nil {
		c.cfg.Logger.Warn("queues: cannot re-arm an early timer; it goes back to its queue", "queue", d.Queue, "id", d.ID, "err", err)
		_ = d.Nack(true)
		select { // do not spin on a broker that refuses
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
		return
	}
	_ = d.Ack()
}
