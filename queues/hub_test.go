package queues

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/internal/testenv"
)

// testLogger shows the package's warnings in verbose test output.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return nil
}

// newHub dials the test broker on a hub of its own, declares its topology and deletes it
// when the test ends. edit may change the Config before dialing.
func newHub(t testing.TB, edit func(*Config)) *Conn {
	t.Helper()
	testenv.RequireRabbitMQ(t)
	cfg := Config{URL: testenv.AMQPURL(), Hub: testenv.UniqueName("qt"), Partitions: 2, Logger: testLogger()}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	keep := testenv.OnInterrupt(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = c.DeleteTopology(ctx)
	})
	t.Cleanup(func() {
		keep()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := c.DeleteTopology(ctx); err != nil {
			t.Errorf("DeleteTopology: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := c.DeclareTopology(ctx); err != nil {
		t.Fatalf("DeclareTopology: %v", err)
	}
	return c
}

// collector gathers deliveries by message id.
type collector struct {
	mu   sync.Mutex
	seen map[string]int
	at   map[string]time.Time
	msgs []*Delivery
}

func newCollector() *collector {
	return &collector{seen: map[string]int{}, at: map[string]time.Time{}}
}

func (k *collector) add(d *Delivery) {
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seen[d.ID]++
	if _, ok := k.at[d.ID]; !ok {
		k.at[d.ID] = now
	}
	k.msgs = append(k.msgs, d)
}

func (k *collector) distinct() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.seen)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
