package sim

import (
	"context"
	"time"

	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/worker"
)

// node is one worker process of the fleet.
type node struct {
	id    string
	w     *worker.Worker
	steps *worker.Steps
	link  *link
	skew  time.Duration
	// crashPoint, when set, is the protocol point at which the node dies next.
	crashPoint string
	dead       bool
	nextBeat   time.Time
	nextSweep  time.Time
	// After a batch that met a store or broker failure the worker waits (Run's backoff:
	// 100 ms, doubling, at most 5 s) before its next batch.
	pause      time.Duration
	pauseUntil time.Time
}

// batch runs one batch and keeps Run's backoff.
func (n *node) batch(now time.Time) {
	if !n.steps.Batch(context.Background()) {
		n.pause = 0
		return
	}
	n.pause = min(max(2*n.pause, 100*time.Millisecond), 5*time.Second)
	n.pauseUntil = now.Add(n.pause)
}

// link is a worker's broker connection that, like queues.Conn, reconnects after a drop
// and subscribes its consumers again on the new connection.
type link struct {
	b    *membroker.Broker
	name string
	n    int
	conn *membroker.Conn
	subs []*subscription
}

// subscription is one consumer of a worker. Like amqp091's consumer goroutine, its
// handler runs on a goroutine of its own and Cancel waits for that goroutine: a handler
// that blocks (it should not) shows up as a stalled step, as it would stall a real worker.
// Deliver waits for the handler to return, so a run stays deterministic while handlers do
// not block.
type subscription struct {
	l        *link
	ctx      context.Context
	queue    string
	prefetch int
	handle   func(*queues.Delivery)
	k        *membroker.Consumer
	off      bool

	in      chan *queues.Delivery
	handled chan struct{}
	stop    chan struct{}
	exited  chan struct{}
}

// handBlockWait is how long a delivery waits for its handler before the step moves on
// with the handler still blocked.
const handBlockWait = 200 * time.Millisecond

func (s *subscription) run() {
	defer close(s.exited)
	for {
		select {
		case d := <-s.in:
			select {
			case <-s.stop:
				return // cancelled while it waited: the broker has taken it back
			default:
			}
			s.handle(d)
			s.handled <- struct{}{}
		case <-s.stop:
			return
		}
	}
}

// deliver is the handler the broker calls.
func (s *subscription) deliver(d *queues.Delivery) {
	s.in <- d
	select {
	case <-s.handled:
	case <-time.After(handBlockWait):
	}
}

func (s *subscription) subscribe(c *membroker.Conn) error {
	k, err := c.Consume(s.ctx, s.queue, s.prefetch, s.deliver)
	if err == nil {
		s.k = k
	}
	return err
}

func newLink(b *membroker.Broker, name string) *link {
	return &link{b: b, name: name, conn: b.Connect(name)}
}

// drop closes the connection (its unsettled deliveries go back to their queues) and opens
// a new one on which every live subscription consumes again, behind any consumer that
// took over meanwhile.
func (l *link) drop() {
	_ = l.conn.Close()
	l.n++
	l.conn = l.b.Connect(l.name)
	for _, s := range l.subs {
		if s.off {
			continue
		}
		_ = s.subscribe(l.conn)
	}
}

// close ends the connection for good (the process died) and stops its consumers'
// goroutines.
func (l *link) close() {
	_ = l.conn.Close()
	for _, s := range l.subs {
		if !s.off {
			s.off = true
			close(s.stop)
		}
	}
}

func (l *link) Publish(ctx context.Context, queue string, msgs ...queues.Message) error {
	return l.conn.Publish(ctx, queue, msgs...)
}

func (l *link) Schedule(ctx context.Context, queue string, due time.Time, msgs ...queues.Message) error {
	return l.conn.Schedule(ctx, queue, due, msgs...)
}

func (l *link) Announce(ctx context.Context, msgs ...queues.Message) error {
	return l.conn.Announce(ctx, msgs...)
}

func (l *link) Consume(ctx context.Context, queue string, prefetch int, handle func(*queues.Delivery)) (worker.Subscription, error) {
	s := &subscription{l: l, ctx: ctx, queue: queue, prefetch: prefetch, handle: handle,
		in: make(chan *queues.Delivery, 1024), handled: make(chan struct{}, 1024),
		stop: make(chan struct{}), exited: make(chan struct{})}
	if err := s.subscribe(l.conn); err != nil {
		return nil, err
	}
	go s.run()
	l.subs = append(l.subs, s)
	return s, nil
}

// Cancel stops the consumer and waits for its handler goroutine, as queues.Consumer does.
func (s *subscription) Cancel() error {
	if s.off {
		return nil
	}
	s.off = true
	err := s.k.Cancel()
	close(s.stop)
	<-s.exited
	return err
}
