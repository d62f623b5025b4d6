package queues

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrClosed is returned by every operation on a Conn after Close.
var ErrClosed = errors.New("queues: connection closed")

// Conn is a connection to the broker that recovers by itself: when the broker goes away it
// reconnects with exponential backoff (trying every URL of the cluster in turn), declares
// the topology again if DeclareTopology was called, and its consumers subscribe again.
// A Conn is safe for concurrent use.
type Conn struct {
	cfg  Config
	urls []string
	done chan struct{} // closed by Close

	mu       sync.Mutex
	cur      *link         // nil while down
	gen      uint64        // counts connections; publisher channels belong to one
	up       chan struct{} // closed while cur is usable
	down     chan struct{} // wakes the supervisor when a user sees cur closed
	declared bool          // DeclareTopology succeeded: declare again after reconnects
	dialErr  error         // why the last connection attempt failed, while down
	closed   bool
	idle     []*publisher // confirm-mode channels of connection gen, ready for Publish

	wg sync.WaitGroup // the supervisor and the consumers

	// upgradeStep, set by tests, may stop UpgradeTopology at a point of its progress.
	upgradeStep func(point, queue string) error
}

// Dial connects to the broker, retrying with backoff until ctx ends, and keeps the
// connection up until Close. Each attempt, TCP connect and AMQP handshake, ends after
// Config.DialTimeout: a broker that accepts the connection and then says nothing is given
// up on and tried again.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	for _, u := range cfg.urls() {
		if _, err := amqp.ParseURI(u); err != nil {
			return nil, fmt.Errorf("queues: bad broker URL %s: %w", redact(u), err)
		}
	}
	c := &Conn{cfg: cfg, urls: cfg.urls(), done: make(chan struct{}), up: make(chan struct{}), down: make(chan struct{}, 1)}
	conn, err := c.connect(ctx, false)
	if err != nil {
		return nil, err
	}
	c.setUp(conn)
	c.wg.Add(1)
	go c.supervise(conn)
	return c, nil
}

// Config is the configuration the Conn runs with, defaults filled in.
func (c *Conn) Config() Config { return c.cfg }

// MaxTimerDelay is the longest delay the timer ladder holds in one pass; Schedule re-arms
// longer ones on arrival.
func (c *Conn) MaxTimerDelay() time.Duration { return c.cfg.maxTimerDelay() }

// Close stops the consumers, closes the connection and waits for the background goroutines.
// Unacked deliveries go back to their queues.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	cur := c.cur
	c.cur = nil
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, p := range idle {
		p.close()
	}
	var err error
	if cur != nil {
		err = cur.close()
		if errors.Is(err, amqp.ErrClosed) {
			err = nil
		} else if err != nil {
			err = fmt.Errorf("queues: close: %w", err)
		}
	}
	c.wg.Wait()
	return err
}

// connection returns the live connection, waiting for a reconnect while the broker is away.
func (c *Conn) connection(ctx context.Context) (*link, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		cur, up := c.cur, c.up
		c.mu.Unlock()
		if cur != nil && !cur.IsClosed() {
			return cur, nil
		}
		if cur != nil {
			c.markDown(cur.gen)
			continue
		}
		select {
		case <-up:
		case <-c.done:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("queues: waiting for the broker: %w", ctx.Err())
		}
	}
}

// setUp makes l the live connection; it reports false (and closes l) after Close.
func (c *Conn) setUp(l *link) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		l.abort()
		return false
	}
	c.gen++
	l.gen = c.gen
	c.cur = l
	c.dialErr = nil
	close(c.up)
	return true
}

// Ping says whether the broker answers on the Conn's connection now, by asking it about the
// hub's dead-letter queue (a passive declare). The error says what is wrong: no connection
// (and why the last attempt failed), no answer within ctx, or the hub not declared. A
// readiness probe uses it; unlike a TCP check it fails on a broker that accepts
// connections but has stopped answering. Ping gives up when ctx ends; the question it
// asked is abandoned, with the connection, only after Config.OperationTimeout.
func (c *Conn) Ping(ctx context.Context) error {
	q := DeadLetterQueue(c.cfg.Hub)
	_, err := c.inspect(ctx, q)
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.NotFound {
		return fmt.Errorf("queues: the broker answers but hub %q is not declared (no queue %s)", c.cfg.Hub, q)
	}
	return err
}

// QueueDepth is how many messages queue holds ready for its consumers (those handed out
// and not yet settled are not counted), as the broker answers a passive declare. It gives
// up when ctx ends, as Ping does.
func (c *Conn) QueueDepth(ctx context.Context, queue string) (int, error) {
	q, err := c.inspect(ctx, queue)
	return q.Messages, err
}

// inspect asks the broker about queue with a passive declare on the current connection.
func (c *Conn) inspect(ctx context.Context, queue string) (amqp.Queue, error) {
	c.mu.Lock()
	cur, closed, dialErr := c.cur, c.closed, c.dialErr
	c.mu.Unlock()
	switch {
	case closed:
		return amqp.Queue{}, ErrClosed
	case cur == nil || cur.IsClosed():
		if dialErr != nil {
			return amqp.Queue{}, fmt.Errorf("queues: not connected to the broker, reconnecting (last attempt: %w)", dialErr)
		}
		return amqp.Queue{}, errors.New("queues: not connected to the broker, reconnecting")
	}
	type answer struct {
		q   amqp.Queue
		err error
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		ch, err := cur.channel(context.Background())
		if err == nil {
			err = cur.do(context.Background(), "queue.declare", func() error {
				a.q, err = ch.QueueDeclarePassive(queue, true, false, false, false, nil)
				return err
			})
			cur.closeChannel(ch)
		}
		a.err = err
		done <- a
	}()
	select {
	case a := <-done:
		var ae *amqp.Error
		if errors.As(a.err, &ae) && ae.Code == amqp.NotFound {
			return amqp.Queue{}, a.err
		}
		if a.err != nil {
			return amqp.Queue{}, fmt.Errorf("queues: asking about %s: %w", queue, a.err)
		}
		return a.q, nil
	case <-ctx.Done():
		return amqp.Queue{}, fmt.Errorf("queues: the broker accepted the connection but did not answer a queue.declare within the probe's time (%w); if it stays so it may be out of file handles", ctx.Err())
	}
}

// markDown records that connection gen is gone (once), so that callers wait for the next.
func (c *Conn) markDown(gen uint64) {
	c.mu.Lock()
	if c.gen != gen || c.cur == nil {
		c.mu.Unlock()
		return
	}
	c.cur = nil
	c.up = make(chan struct{})
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, p := range idle {
		p.close()
	}
	select {
	case c.down <- struct{}{}:
	default:
	}
}

// supervise waits for the connection to fail and replaces it, until Close.
func (c *Conn) supervise(conn *link) {
	defer c.wg.Done()
	for {
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		var cause error
	wait:
		for {
			select {
			case <-c.done:
				return
			case e := <-closed:
				if e != nil {
					cause = e
				}
				break wait
			case <-c.down:
				if conn.IsClosed() {
					break wait
				}
			}
		}
		c.markDown(conn.gen)
		conn.abort()
		c.cfg.Logger.Warn("queues: connection to the broker lost; reconnecting", "hub", c.cfg.Hub, "err", cause)
		next, err := c.connect(context.Background(), true)
		if err != nil { // only when Close was called
			return
		}
		conn = next
		if !c.setUp(conn) {
			return
		}
		c.cfg.Logger.Info("queues: reconnected to the broker", "hub", c.cfg.Hub)
	}
}

// connect dials the URLs in turn with exponential backoff until one answers (and, when the
// topology was declared before, accepts the declarations again), ctx ends or Close is called.
func (c *Conn) connect(ctx context.Context, redeclare bool) (*link, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = c.cfg.ReconnectMaxInterval
	b.MaxElapsedTime = 0
	var lastErr error
	for attempt := 0; ; attempt++ {
		u := c.urls[attempt%len(c.urls)]
		conn, err := dialLink(ctx, u, c.cfg)
		if err == nil && redeclare {
			c.mu.Lock()
			declared := c.declared
			c.mu.Unlock()
			if declared {
				if err = declare(ctx, conn, c.cfg); err != nil {
					conn.abort()
				}
			}
		}
		if err == nil {
			return conn, nil
		}
		lastErr = err
		c.mu.Lock()
		c.dialErr = err
		c.mu.Unlock()
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.AccessRefused && !redeclare {
			return nil, fmt.Errorf("queues: %s refused the credentials: %w", redact(u), err)
		}
		var mismatch *TopologyMismatchError
		if errors.As(err, &mismatch) {
			c.cfg.Logger.Error("queues: cannot declare the topology again after reconnecting", "err", err)
		}
		if attempt%len(c.urls) == len(c.urls)-1 || attempt == 0 {
			c.cfg.Logger.Debug("queues: broker not reachable yet", "url", redact(u), "err", err)
		}
		wait := time.NewTimer(b.NextBackOff())
		select {
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
			return nil, fmt.Errorf("queues: cannot connect to %s: %w (last error: %w)", redactAll(c.urls), ctx.Err(), lastErr)
		case <-c.done:
			wait.Stop()
			return nil, ErrClosed
		}
	}
}

func redactAll(urls []string) string {
	s := ""
	for i, u := range urls {
		if i > 0 {
			s += ","
		}
		s += redact(u)
	}
	return s
}
