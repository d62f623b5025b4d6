package queues

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/internal/testenv"
	"go.uber.org/goleak"
)

// cutProxy forwards TCP connections to the broker and can cut them all, as a failing
// network or broker would, without disturbing anyone else on the broker.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cuts   int
}

func newCutProxy(t testing.TB) (*cutProxy, string) {
	t.Helper()
	u, err := url.Parse(testenv.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: u.Host}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *cutProxy) serve() {
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
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

// cut closes every connection through the proxy.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.cuts++
}

func TestReconnectAfterTheConnectionDrops(t *testing.T) {
	proxy, proxied := newCutProxy(t)
	// The first URL of the list is dead: reconnects go on to the next one.
	dead := "amqp://guest:guest@127.0.0.1:1/"
	c := newHub(t, func(cfg *Config) { cfg.URL = dead + "," + proxied; cfg.Partitions = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	q := WorkItemQueue(c.cfg.Hub)
	col := newCollector()
	k, err := c.Consume(ctx, q, 10, func(d *Delivery) { col.add(d); _ = d.Ack() })
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	timerDue := time.Now().Add(1500 * time.Millisecond)
	if err := c.Schedule(ctx, q, timerDue, Message{ID: "timer"}); err != nil {
		t.Fatal(err)
	}
	reported := map[string]bool{}
	publish := func(from, to int) {
		msgs := make([]Message, 0, to-from)
		for i := from; i < to; i++ {
			msgs = append(msgs, Message{ID: fmt.Sprintf("m-%d", i)})
		}
		for len(msgs) > 0 {
			err := c.Publish(ctx, q, msgs...)
			if err == nil {
				return
			}
			var pe *PublishError
			if !errors.As(err, &pe) || len(pe.Unroutable) > 0 {
				t.Fatalf("Publish: %v", err)
			}
			var again []Message
			for _, i := range pe.Unconfirmed {
				reported[msgs[i].ID] = true
				again = append(again, msgs[i])
			}
			msgs = again
		}
	}
	publish(0, 100)
	waitFor(t, 10*time.Second, "the first 100 messages", func() bool { return col.distinct() == 100 })
	for round := range 3 {
		proxy.cut()
		// Publishing right after the cut waits for the reconnect.
		publish(100*(round+1), 100*(round+2))
	}
	waitFor(t, 20*time.Second, "all 400 messages and the timer", func() bool { return col.distinct() == 401 })
	col.mu.Lock()
	at := col.at["timer"]
	col.mu.Unlock()
	if at.Before(timerDue) {
		t.Errorf("the timer arrived %v early", timerDue.Sub(at))
	}
	t.Logf("%d cuts, %d messages reported unconfirmed and sent again", proxy.cuts, len(reported))
	// The Conn declared the topology again after each reconnect; it still works as a whole.
	if err := c.DeclareTopology(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	hub := newHub(t, func(cfg *Config) { cfg.Partitions = 1 })
	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, hub.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ks []*Consumer
	for _, q := range []string{WorkItemQueue(c.cfg.Hub), ControlQueue(c.cfg.Hub, 0)} {
		k, err := c.Consume(ctx, q, 5, func(d *Delivery) { _ = d.Ack() })
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	if err := c.Publish(ctx, WorkItemQueue(c.cfg.Hub), Message{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, k := range ks {
		select {
		case <-k.Done():
		default:
			t.Error("a consumer is still running after Close")
		}
		_ = k.Cancel() // harmless after Close
	}
	if err := c.Publish(ctx, WorkItemQueue(c.cfg.Hub), Message{ID: "b"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if _, err := c.Consume(ctx, WorkItemQueue(c.cfg.Hub), 1, func(*Delivery) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Consume after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	goleak.VerifyNone(t, ignore)
}

func TestDialRefusesBadURLsAndCredentials(t *testing.T) {
	testenv.RequireRabbitMQ(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Dial(ctx, Config{URL: "http://x"}); err == nil {
		t.Error("Dial with an http URL: no error")
	}
	u, _ := url.Parse(testenv.AMQPURL())
	u.User = url.UserPassword("guest", "wrong-password")
	start := time.Now()
	_, err := Dial(ctx, Config{URL: u.String()})
	if err == nil {
		t.Fatal("Dial with a wrong password: no error")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Dial with a wrong password took %v; it should give up at once", time.Since(start))
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("the error shows the password: %v", err)
	}
}
