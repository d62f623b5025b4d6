package worker

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/internal/rendezvous"
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

// A worker that took a partition while its last owner went on working it (the old owner
// had not rebalanced yet: single active consumer keeps it the one served) warms it again
// when that owner is gone from the live workers: the old owner may have died owing the
// document of an instance it ended after the take's warm-up, and nothing else would
// bring that instance back.
func TestADepartedWorkersDocumentsAreRepaired(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, quickRegistry(t), nil, nil)
	// Name the workers so that the second to come owns the partition.
	oldID, newID := "a", "b"
	if rendezvous.Owner(0, []string{"a", "b"}) == "a" {
		oldID, newID = "b", "a"
	}
	old, oldConn := f.worker(oldID) // owns the partition, alone
	taker, _ := f.worker(newID)     // sees both, takes the partition and waits behind old
	taker.SweepTimers(ctx)          // the take's warm-up: nothing to read yet
	if got := taker.Owned(); !slices.Equal(got, []int{0}) {
		t.Fatalf("the new worker owns %v, want the partition", got)
	}

	f.start("x", "Quick", "null")
	f.run(old) // old has not rebalanced: it is still the active consumer, and ends x
	_ = oldConn.Close()
	if old.DocsOwed() != 1 {
		t.Fatalf("the old owner owes %d documents, want x's", old.DocsOwed())
	}
	if inst := f.settle(taker, "x"); inst.Status != history.StatusPending {
		t.Fatalf("before the old owner counts as gone x is %s; the test wants its document still behind", inst.Status)
	}

	for range 6 { // past DeadAfter, a heartbeat a second: the old owner is gone
		f.now = f.now.Add(time.Second)
		taker.Heartbeat(ctx)
	}
	taker.SweepTimers(ctx)
	inst := f.settle(taker, "x")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"done"` {
		t.Fatalf("x is %s with %s, want Completed with \"done\" (its history says so)", inst.Status, inst.Output)
	}
}

// A worker whose last batch met a store failure is troubled until the store answers: a
// heartbeat that goes through with no message waiting for a batch ends the trouble, so the
// warm-up (and the timer sweep) runs again even if no message ever comes. Before, only a
// batch cleared it, and a partition taken during a store outage was never warmed: the
// document its last owner left behind stayed Pending (simulation seed 28612).
func TestTroubleEndsWhenTheStoreAnswers(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, quickRegistry(t), nil, nil)
	old, oldConn := f.worker("old")
	f.start("x", "Quick", "null")
	f.run(old) // ends x, and dies owing its document
	_ = oldConn.Close()

	f.now = f.now.Add(10 * time.Second)
	w, _ := f.worker("w") // takes the partition; its warm-up is due
	w.w.troubled.Store(true)
	w.SweepTimers(ctx) // its last batch met a store failure: no warm-up yet
	if inst := f.settle(w, "x"); inst.Status != history.StatusPending {
		t.Fatalf("x is %s while the worker is troubled; the test wants its document still behind", inst.Status)
	}
	f.now = f.now.Add(time.Second)
	w.Heartbeat(ctx) // the store answers; nothing waits in the inbox
	w.SweepTimers(ctx)
	inst := f.settle(w, "x")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"done"` {
		t.Fatalf("x is %s with %s, want Completed with \"done\" (its history says so)", inst.Status, inst.Output)
	}
}

// quickRegistry registers "Quick", an orchestrator that ends in its first episode with
// "done".
func quickRegistry(t *testing.T) *durable.Registry {
	t.Helper()
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Quick", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		return "done", nil
	}))
	return r
}
