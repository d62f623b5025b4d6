package worker

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
)

// After the store has been away for longer than DeadAfter, every heartbeat in it is stale:
// the first worker to write its own again keeps the partitions it had for one interval
// instead of taking the whole fleet's, and takes a silent worker's partitions only at the
// next heartbeat.
func TestHeartbeatAfterAGapKeepsOwnershipForOneInterval(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	const hub, partitions = "h", 8
	store := memstore.New(memstore.Options{Now: clock})
	must(t, store.EnsureHub(ctx, partitions))
	broker := membroker.New(membroker.Options{Hub: hub, Partitions: partitions, Now: clock})
	r := durable.NewRegistry()
	newWorker := func(id string) *Steps {
		w, err := New(Config{Hub: hub, Partitions: partitions, WorkerID: id, Now: clock,
			HeartbeatInterval: time.Second, DeadAfter: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)},
			store, memConn{broker.Connect(id)}, r)
		must(t, err)
		return w.Steps(nil)
	}
	a, b := newWorker("a"), newWorker("b")
	for range 2 { // the second round sees both
		a.Heartbeat(ctx)
		b.Heartbeat(ctx)
		now = now.Add(time.Second)
	}
	owned := a.Owned()
	if len(owned) == 0 || len(owned) == partitions || len(owned)+len(b.Owned()) != partitions {
		t.Fatalf("before the gap a owns %v, b owns %v", owned, b.Owned())
	}

	now = now.Add(10 * time.Second) // the store was away; b never comes back
	a.Heartbeat(ctx)
	if got := a.Owned(); !slices.Equal(got, owned) {
		t.Fatalf("right after the gap a owns %v, want %v as before", got, owned)
	}
	now = now.Add(time.Second)
	a.Heartbeat(ctx)
	if got := a.Owned(); len(got) != partitions {
		t.Fatalf("one interval after the gap a owns %v, want all %d partitions (b is gone)", got, partitions)
	}
}
