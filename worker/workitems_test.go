package worker

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/queues"
)

// countingConn records the consumers a worker starts, and fails after failAfter of them.
type countingConn struct {
	memConn
	prefetches []int
	failAfter  int
	cancelled  int
}

type countedSub struct {
	Subscription
	c *countingConn
}

func (s countedSub) Cancel() error { s.c.cancelled++; return s.Subscription.Cancel() }

func (c *countingConn) Consume(ctx context.Context, queue string, prefetch int, handle func(*queues.Delivery)) (Subscription, error) {
	if queue != queues.WorkItemQueue("h") {
		return c.memConn.Consume(ctx, queue, prefetch, handle)
	}
	if c.failAfter > 0 && len(c.prefetches) == c.failAfter {
		return nil, errors.New("broker says no")
	}
	c.prefetches = append(c.prefetches, prefetch)
	s, err := c.memConn.Consume(ctx, queue, prefetch, handle)
	return countedSub{s, c}, err
}

// Every work item a worker holds is on a channel of its own (a consumer with prefetch 1),
// so a consumer timeout on one cannot take back the others.
func TestEachWorkItemHasAChannelOfItsOwn(t *testing.T) {
	for _, failAfter := range []int{0, 3} {
		b := membroker.New(membroker.Options{Hub: "h", Partitions: 1})
		conn := &countingConn{memConn: memConn{b.Connect("w")}, failAfter: failAfter}
		w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w", ActivityConcurrency: 5, Logger: slog.New(slog.DiscardHandler)},
			memstore.New(memstore.Options{}), conn, durable.NewRegistry())
		must(t, err)
		subs, err := w.consumeWorkItems(context.Background())
		if failAfter > 0 {
			if err == nil || conn.cancelled != failAfter {
				t.Fatalf("a failed consumer: err %v, %d of %d started ones cancelled", err, conn.cancelled, failAfter)
			}
			continue
		}
		must(t, err)
		if len(subs) != 5 || len(conn.prefetches) != 5 {
			t.Fatalf("%d consumers, want one per activity slot (5)", len(conn.prefetches))
		}
		for _, p := range conn.prefetches {
			if p != 1 {
				t.Fatalf("prefetches %v, want 1 each", conn.prefetches)
			}
		}
		for _, s := range subs {
			must(t, s.Cancel())
		}
	}
}
