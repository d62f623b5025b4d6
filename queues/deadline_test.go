package queues

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/internal/testenv"
)

// A wedged broker accepts TCP connections and then answers nothing. These tests stand one
// up on 127.0.0.1 and check that every call gives up by its deadline.

// silentListener is a broker that accepts connections and answers nothing; it returns
// its amqp:// URL.
func silentListener(t testing.TB) string {
	return "amqp://guest:guest@" + testenv.SilentListener(t) + "/"
}

// freezeProxy forwards connections to the broker until freeze is called; from then on it
// swallows what either side sends (and new connections get no answer either), keeping every
// socket open: a broker that took the connection and then stopped answering.
type freezeProxy struct {
	ln     net.Listener
	target string
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newFreezeProxy(t testing.TB) (*freezeProxy, string) {
	t.Helper()
	u, err := url.Parse(testenv.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln, target: u.Host}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *freezeProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// pipe copies from src to dst until either closes, dropping what arrives while frozen.
func (p *freezeProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// within fails the test unless fn returns an error no later than slack after deadline.
func within(t *testing.T, what string, deadline time.Duration, fn func() error) {
	t.Helper()
	const slack = 750 * time.Millisecond
	t0 := time.Now()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		took := time.Since(t0)
		if err == nil {
			t.Errorf("%s on a broker that does not answer returned nil after %v", what, took)
		} else if took > deadline+slack {
			t.Errorf("%s took %v, deadline %v: %v", what, took, deadline, err)
		} else {
			t.Logf("%s gave up after %v: %v", what, took.Round(time.Millisecond), err)
		}
	case <-time.After(deadline + 10*time.Second):
		t.Fatalf("%s still waits %v after its deadline of %v", what, 10*time.Second, deadline)
	}
}

func TestDialGivesUpOnASilentBroker(t *testing.T) {
	silent := silentListener(t)
	// The ctx ends first: Dial keeps trying until then and no longer.
	within(t, "Dial (ctx 1.5s)", 1500*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		c, err := Dial(ctx, Config{URL: silent})
		if err == nil {
			c.Close()
		}
		return err
	})
	// Each attempt ends by DialTimeout, so a cluster's next node gets its turn.
	within(t, "Dial (DialTimeout 300ms, ctx 1s)", time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := Dial(ctx, Config{URL: silent, DialTimeout: 300 * time.Millisecond})
		if err == nil {
			c.Close()
		}
		return err
	})
}

func TestCallsOnAStuckBrokerEndByTheirDeadline(t *testing.T) {
	proxy, proxied := newFreezeProxy(t)
	c := newHub(t, func(cfg *Config) {
		cfg.URL = proxied
		cfg.Partitions = 1
		cfg.TimerLevels = 4
		cfg.OperationTimeout = time.Second
		cfg.DialTimeout = time.Second
	})
	defer proxy.frozen.Store(false) // the hub's cleanup deletes it through the proxy
	hub := c.cfg.Hub

	// stuck thaws the broker, waits until the Conn works again, freezes it and runs fn.
	stuck := func(what string, deadline time.Duration, fn func() error) {
		t.Helper()
		proxy.frozen.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for {
			if err := c.Publish(ctx, DeadLetterQueue(hub), Message{ID: "ping"}); err == nil {
				break
			} else if ctx.Err() != nil {
				t.Fatalf("the Conn did not recover after the broker thawed: %v", err)
			}
		}
		proxy.frozen.Store(true)
		within(t, what, deadline, fn)
	}
	withCtx := func(d time.Duration, fn func(context.Context) error) func() error {
		return func() error {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			return fn(ctx)
		}
	}
	const d = 700 * time.Millisecond
	stuck("DeclareTopology (ctx)", d, withCtx(d, c.DeclareTopology))
	stuck("DeclareTopology (OperationTimeout)", time.Second, func() error { return c.DeclareTopology(context.Background()) })
	stuck("Publish (ctx)", d, withCtx(d, func(ctx context.Context) error {
		return c.Publish(ctx, WorkItemQueue(hub), Message{ID: "stuck"})
	}))
	stuck("Publish (OperationTimeout)", time.Second, func() error {
		return c.Publish(context.Background(), WorkItemQueue(hub), Message{ID: "stuck"})
	})
	stuck("Schedule (ctx)", d, withCtx(d, func(ctx context.Context) error {
		return c.Schedule(ctx, WorkItemQueue(hub), time.Now().Add(time.Second), Message{ID: "stuck"})
	}))
	stuck("Listen (ctx)", d, withCtx(d, func(ctx context.Context) error {
		k, err := c.Listen(ctx, "stuck", func(*Delivery) {})
		if err == nil {
			k.Cancel()
		}
		return err
	}))
	stuck("Consume (OperationTimeout)", time.Second, func() error {
		k, err := c.Consume(context.Background(), WorkItemQueue(hub), 1, func(*Delivery) {})
		if err == nil {
			k.Cancel()
		}
		return err
	})
	stuck("StopListening (ctx)", d, withCtx(d, func(ctx context.Context) error { return c.StopListening(ctx, "stuck") }))
	stuck("DeleteTopology (ctx)", d, withCtx(d, c.DeleteTopology))
	stuck("Ping (ctx)", d, withCtx(d, c.Ping))

	// Thawed, the Conn works again (the topology is declared anew after the reconnects).
	proxy.frozen.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.DeclareTopology(ctx); err != nil {
		t.Fatalf("DeclareTopology after the broker thawed: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping after the broker thawed: %v", err)
	}
	col := newCollector()
	k, err := c.Consume(ctx, WorkItemQueue(hub), 10, func(d *Delivery) { col.add(d); _ = d.Ack() })
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	if err := c.Publish(ctx, WorkItemQueue(hub), Message{ID: "after"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the message published after the thaw", func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		return col.seen["after"] > 0
	})

	// Close on a stuck broker returns too (on a Conn of its own: the hub's deletes the hub).
	other, err := Dial(ctx, c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	proxy.frozen.Store(true)
	t0 := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- other.Close() }()
	select {
	case err := <-closed:
		t.Logf("Close gave up after %v: %v", time.Since(t0).Round(time.Millisecond), err)
	case <-time.After(c.cfg.OperationTimeout + 2*time.Second):
		t.Errorf("Close on a stuck broker still waits after %v", time.Since(t0))
	}
	proxy.frozen.Store(false)
}

// A caller that cancels its ctx is not the broker's fault: the connection stays up.
func TestCancelledCallKeepsTheConnection(t *testing.T) {
	c := newHub(t, func(cfg *Config) { cfg.Partitions = 1; cfg.TimerLevels = 4 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.connection(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(ctx)
	release := make(chan struct{})
	go func() { time.Sleep(50 * time.Millisecond); ccancel() }()
	err = conn.do(cctx, "a slow call", func() error { <-release; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("do with a cancelled ctx = %v, want context.Canceled", err)
	}
	close(release) // the call ends in the background
	time.Sleep(50 * time.Millisecond)
	if conn.IsClosed() {
		t.Fatal("a cancelled call dropped the connection")
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
