package queues

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

var (
	// ErrUnroutable is matched (errors.Is) by a *PublishError when a message reached no queue.
	ErrUnroutable = errors.New("queues: unroutable message (no such queue)")
	// ErrUnconfirmed is matched (errors.Is) by a *PublishError when the broker did not
	// confirm a message: it nacked it, or the connection or ctx ended before the confirm.
	ErrUnconfirmed = errors.New("queues: message not confirmed by the broker")
)

// PublishError reports the messages of one Publish or Schedule call that the broker did not
// take. Unconfirmed messages may or may not have reached the queue: publishing them again is
// safe for receivers that drop duplicates by message id. Unroutable messages reached no
// queue and never will until the queue exists.
type PublishError struct {
	Queue       string
	Unconfirmed []int // indexes into the msgs of the call
	Unroutable  []int
	IDs         []string // the message ids of the call, for the indexes above
	Err         error    // why, when known (a closed connection, ctx)
}

func (e *PublishError) Error() string {
	var parts []string
	if n := len(e.Unroutable); n > 0 {
		parts = append(parts, fmt.Sprintf("%d unroutable (does the queue exist?) e.g. %q", n, e.IDs[e.Unroutable[0]]))
	}
	if n := len(e.Unconfirmed); n > 0 {
		parts = append(parts, fmt.Sprintf("%d not confirmed e.g. %q", n, e.IDs[e.Unconfirmed[0]]))
	}
	s := fmt.Sprintf("queues: publish to %q: %d messages: %s", e.Queue, len(e.IDs), strings.Join(parts, ", "))
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *PublishError) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if len(e.Unroutable) > 0 {
		errs = append(errs, ErrUnroutable)
	}
	if len(e.Unconfirmed) > 0 {
		errs = append(errs, ErrUnconfirmed)
	}
	return errs
}

// Publish sends msgs to queue as persistent messages with the mandatory flag and publisher
// confirms, pipelined: all are sent, then all confirms awaited. It returns nil only when the
// broker confirmed every message; otherwise a *PublishError says which ones it did not
// take. A message without an ID gets a random one. While the broker is away Publish waits
// for the reconnect (until ctx ends); it never sends a message twice by itself. Safe for
// concurrent use: each call has a channel of its own.
func (c *Conn) Publish(ctx context.Context, queue string, msgs ...Message) error {
	return c.publish(ctx, "", queue, queue, time.Time{}, msgs)
}

// publisher is a confirm-mode channel of one connection, used by one call at a time.
type publisher struct {
	conn    *link
	ch      *amqp.Channel
	returns chan amqp.Return
	gen     uint64
}

// close closes the channel in the background (a stuck broker must not hold up the caller);
// late returns are drained so they never block the connection.
func (p *publisher) close() {
	go func() {
		for range p.returns {
		}
	}()
	if !p.ch.IsClosed() {
		go p.conn.closeChannel(p.ch)
	}
}

// drainReturns records the returns waiting in the channel without blocking.
func (p *publisher) drainReturns(returned map[string]bool) {
	for {
		select {
		case r, ok := <-p.returns:
			if !ok {
				return
			}
			returned[r.MessageId] = true
		default:
			return
		}
	}
}

const (
	maxIdlePublishers = 16
	returnsBuffer     = 256
)

func (c *Conn) getPublisher(ctx context.Context) (*publisher, error) {
	for {
		conn, err := c.connection(ctx)
		if err != nil {
			return nil, err
		}
		gen := conn.gen
		c.mu.Lock()
		if n := len(c.idle); n > 0 {
			p := c.idle[n-1]
			c.idle = c.idle[:n-1]
			c.mu.Unlock()
			if p.gen == gen && !p.ch.IsClosed() {
				return p, nil
			}
			p.close()
			continue
		}
		c.mu.Unlock()
		ch, err := conn.channel(ctx)
		if err == nil {
			err = conn.do(ctx, "confirm.select", func() error { return ch.Confirm(false) })
			if err != nil {
				conn.closeChannel(ch)
			}
		}
		if err != nil {
			if conn.IsClosed() {
				c.markDown(gen)
				continue
			}
			return nil, fmt.Errorf("queues: open a publishing channel: %w", err)
		}
		return &publisher{conn: conn, ch: ch, returns: ch.NotifyReturn(make(chan amqp.Return, returnsBuffer)), gen: gen}, nil
	}
}

func (c *Conn) putPublisher(p *publisher) {
	c.mu.Lock()
	if !c.closed && p.gen == c.gen && c.cur != nil && len(c.idle) < maxIdlePublishers && !p.ch.IsClosed() {
		c.idle = append(c.idle, p)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	p.close()
}

// publish encodes msgs (due marks scheduled ones) and sends them.
func (c *Conn) publish(ctx context.Context, exchange, key, queue string, due time.Time, msgs []Message) error {
	pubs := make([]amqp.Publishing, len(msgs))
	for i := range msgs {
		pubs[i] = msgs[i].publishing(due)
	}
	return c.send(ctx, exchange, key, queue, pubs)
}

// publishRaw publishes ready-made AMQP messages to queue.
func (c *Conn) publishRaw(ctx context.Context, queue string, pubs []amqp.Publishing) error {
	return c.send(ctx, "", queue, queue, pubs)
}

// send publishes pubs to exchange with key and awaits their confirms; queue names the
// destination in errors.
func (c *Conn) send(ctx context.Context, exchange, key, queue string, pubs []amqp.Publishing) error {
	if len(pubs) == 0 {
		return nil
	}
	// Announcements may have no listener; everything else must reach a queue.
	mandatory := exchange != AnnounceExchange(c.cfg.Hub)
	ids := make([]string, len(pubs))
	for i := range pubs {
		if pubs[i].MessageId == "" {
			pubs[i].MessageId = newID()
		}
		ids[i] = pubs[i].MessageId
	}
	all := func(err error) error {
		idx := make([]int, len(pubs))
		for i := range idx {
			idx[i] = i
		}
		return &PublishError{Queue: queue, Unconfirmed: idx, IDs: ids, Err: err}
	}
	for attempt := 0; ; attempt++ {
		p, err := c.getPublisher(ctx)
		if err != nil {
			return all(err)
		}
		// From here on the broker must answer within the operation timeout.
		octx, cancel := context.WithTimeout(ctx, c.cfg.OperationTimeout)
		dcs, returned, sendErr := p.sendAll(octx, exchange, key, mandatory, pubs)
		if len(dcs) == 0 {
			cancel()
			// Nothing left this process: safe to try again on a fresh channel.
			p.close()
			if ctx.Err() != nil {
				return all(ctx.Err())
			}
			select {
			case <-time.After(min(time.Duration(attempt+1)*50*time.Millisecond, time.Second)):
			case <-ctx.Done():
				return all(fmt.Errorf("%w (last error: %v)", ctx.Err(), sendErr))
			}
			continue
		}
		err = c.awaitConfirms(octx, p, queue, ids, dcs, returned, sendErr)
		if octx.Err() != nil && ctx.Err() == nil {
			// The caller still waits but the broker did not confirm in time: it is stuck.
			p.conn.abort()
		}
		cancel()
		return err
	}
}

// writeGrace is how long a publish that is still writing to the socket when its ctx ends
// may go on before the connection is dropped (a broker that stopped reading).
const writeGrace = 100 * time.Millisecond

// sendAll publishes pubs on p until one fails or ctx ends, taking the returns as they come.
func (p *publisher) sendAll(ctx context.Context, exchange, key string, mandatory bool, pubs []amqp.Publishing) ([]*amqp.DeferredConfirmation, map[string]bool, error) {
	var finished atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(writeGrace, func() {
			if !finished.Load() {
				p.conn.abort()
			}
		})
	})
	defer stop()
	defer finished.Store(true)
	dcs := make([]*amqp.DeferredConfirmation, 0, len(pubs))
	returned := map[string]bool{}
	for i := range pubs {
		dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, mandatory, false, pubs[i])
		if err != nil {
			return dcs, returned, err
		}
		dcs = append(dcs, dc)
		// Take the returns as they come, so that the client never waits on a full
		// returns channel (it gives up after a while and drops the return).
		p.drainReturns(returned)
	}
	return dcs, returned, nil
}

// awaitConfirms waits for the confirms of the first len(dcs) messages (the rest were not
// sent because of sendErr) and collects the returns that precede them.
func (c *Conn) awaitConfirms(ctx context.Context, p *publisher, queue string, ids []string, dcs []*amqp.DeferredConfirmation, returned map[string]bool, sendErr error) error {
	returns := p.returns
	aborted := false
	// The broker sends basic.return before the ack of the same message, and the client
	// hands returns over before it processes the next frame, so once every confirm is in,
	// every return is in the channel.
wait:
	for _, dc := range dcs {
		for done := false; !done; {
			select {
			case r, ok := <-returns:
				if !ok {
					returns = nil
					continue
				}
				returned[r.MessageId] = true
			case <-dc.Done():
				done = true
			case <-ctx.Done():
				aborted = true
				break wait
			}
		}
	}
	p.drainReturns(returned)
	perr := &PublishError{Queue: queue, IDs: ids, Err: sendErr}
	for i := range ids {
		switch {
		case i >= len(dcs):
			perr.Unconfirmed = append(perr.Unconfirmed, i)
		case !dcs[i].Acked(): // nacked, channel closed, or still waiting when ctx ended
			perr.Unconfirmed = append(perr.Unconfirmed, i)
		case returned[ids[i]]:
			perr.Unroutable = append(perr.Unroutable, i)
		}
	}
	if aborted && perr.Err == nil {
		perr.Err = ctx.Err()
	}
	if len(perr.Unconfirmed) > 0 || aborted || sendErr != nil {
		if perr.Err == nil && p.ch.IsClosed() {
			perr.Err = amqp.ErrClosed
		}
		p.close()
	} else {
		c.putPublisher(p)
	}
	if len(perr.Unconfirmed) == 0 && len(perr.Unroutable) == 0 {
		return nil
	}
	return perr
}

// newID returns a random message id for messages published without one.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
