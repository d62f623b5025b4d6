package queues

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Deadlines on every call to the broker. A broker can accept TCP connections and then answer
// nothing (RabbitMQ 3.x does so when its file-handle budget is spent: new sockets and new
// classic queues wait for a handle that never comes), and amqp091's channel RPCs take no
// ctx. So every call runs under a deadline, the caller's ctx or Config.OperationTimeout when
// that is sooner; when the deadline passes, the call is abandoned by closing the socket under
// the connection, which ends every wait on it and makes the Conn reconnect.

// link is one AMQP connection together with the socket under it.
type link struct {
	*amqp.Connection
	gen     uint64        // which connection of the Conn this is
	timeout time.Duration // Config.OperationTimeout

	mu      sync.Mutex
	sock    net.Conn
	aborted bool
}

// dialLink opens a connection to url: the TCP connect and the AMQP handshake together end
// by cfg.DialTimeout or ctx, whichever comes first.
func dialLink(ctx context.Context, url string, cfg Config) (*link, error) {
	l := &link{timeout: cfg.OperationTimeout}
	dial := func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: cfg.DialTimeout}
		sock, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// amqp091 clears the deadline once the handshake is done.
		deadline := time.Now().Add(cfg.DialTimeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		if err := sock.SetDeadline(deadline); err != nil {
			sock.Close()
			return nil, err
		}
		l.setSocket(sock)
		return sock, nil
	}
	stop := context.AfterFunc(ctx, l.abort)
	conn, err := amqp.DialConfig(url, amqp.Config{
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Properties: amqp.Table{"connection_name": cfg.ConnectionName},
		Dial:       dial,
	})
	if !stop() && err == nil { // ctx ended as the handshake finished
		l.abort()
		_ = conn.Close()
		err = ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			// The attempt's deadline ended it; how far it got still tells a wedged broker
			// from one that is down.
			return nil, l.stage(fmt.Errorf("%w (%v)", ctx.Err(), err))
		}
		return nil, l.stage(err)
	}
	l.Connection = conn
	return l, nil
}

// stage wraps a failed dial's err with how far it got, ErrUnreachable or ErrNoHandshake, so
// that a broker that is down and one that is wedged read differently; a refusal of the
// credentials stays as the broker said it.
func (l *link) stage(err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.AccessRefused {
		return err
	}
	l.mu.Lock()
	connected := l.sock != nil
	l.mu.Unlock()
	if connected {
		return fmt.Errorf("%w: %w", ErrNoHandshake, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

func (l *link) setSocket(sock net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sock = sock
	if l.aborted {
		sock.Close()
	}
}

// abort closes the socket: every call waiting on the connection returns, and its close
// listeners (the Conn's supervisor) hear of it.
func (l *link) abort() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.aborted = true
	if l.sock != nil {
		l.sock.Close()
	}
}

// do runs fn, a call to the broker that takes no ctx (what names its AMQP method), and waits
// for it until ctx ends or the operation timeout passes. When a deadline passes, the broker
// is stuck: do aborts the connection, so that fn returns too, and reports that the broker
// did not answer. When the caller cancels ctx instead, the broker is not to blame: fn may
// finish in the background, and the connection is aborted only if it does not within the
// operation timeout.
func (l *link) do(ctx context.Context, what string, fn func() error) error {
	return l.call(ctx, what, fn, nil)
}

// call is do with late, which runs if fn succeeds after the caller stopped waiting for it
// (to close what fn opened).
func (l *link) call(ctx context.Context, what string, fn func() error, late func()) error {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s not sent: %w", what, err)
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // answered at the last moment
			return err
		default:
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			go l.finish(what, done, late)
			return fmt.Errorf("%s abandoned: %w", what, ctx.Err())
		}
		l.abort()
		return fmt.Errorf("the broker did not answer %s in time, dropping the connection: %w", what, ctx.Err())
	}
}

// finish waits for a call its caller abandoned, and aborts the connection if the broker
// does not answer it within the operation timeout.
func (l *link) finish(what string, done <-chan error, late func()) {
	t := time.NewTimer(l.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err == nil && late != nil {
			late()
		}
	case <-t.C:
		l.abort()
	}
}

// channel opens a channel.
func (l *link) channel(ctx context.Context) (*amqp.Channel, error) {
	var ch *amqp.Channel
	err := l.call(ctx, "channel.open", func() (err error) {
		ch, err = l.Channel()
		return err
	}, func() { l.closeChannel(ch) })
	if err != nil {
		return nil, err // ch belongs to the call still running, if any
	}
	return ch, nil
}

// closeChannel closes ch, waiting at most the operation timeout for the broker's answer.
func (l *link) closeChannel(ch *amqp.Channel) {
	if ch == nil || ch.IsClosed() {
		return
	}
	_ = l.do(context.Background(), "channel.close", ch.Close)
}

// close closes the connection, waiting at most the operation timeout for the broker.
func (l *link) close() error {
	if l.IsClosed() {
		return nil
	}
	return l.do(context.Background(), "connection.close", l.Connection.Close)
}
