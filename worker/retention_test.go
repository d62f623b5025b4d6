package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
)

// The retention sweep purges, in batches, the ended instances created before the
// retention, with their histories, and nothing that runs or is younger.
func TestRetentionPurgesOnlyOldEndedInstances(t *testing.T) {
	r := helloTwice(t, new(int))
	must(t, durable.AddOrchestrator(r, "Nap", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		return "woke", ctx.CreateTimer(24 * time.Hour).Await(nil)
	}))
	f := newFleet(t, r, nil, nil)
	w := f.workerWith("w1", Config{Retention: time.Hour})
	const old = 2*retentionBatch + 50
	for i := range old {
		f.start(fmt.Sprintf("old-%d", i), "Two", `"bob"`)
	}
	f.start("old-running", "Nap", "null")
	f.settle(w, "old-running")
	f.now = f.now.Add(2 * time.Hour)
	f.start("young", "Two", `"bob"`)
	if inst := f.settle(w, "young"); inst.Status != history.StatusCompleted {
		t.Fatalf("young: %+v", inst)
	}

	ctx := context.Background()
	if n := w.w.purgeExpired(ctx); n != old {
		t.Fatalf("purged %d, want the %d old ended instances", n, old)
	}
	for _, id := range []string{"old-0", fmt.Sprintf("old-%d", old-1)} {
		if _, err := f.store.GetInstance(ctx, id); !errors.Is(err, history.ErrInstanceNotFound) {
			t.Errorf("%s after the sweep: %v, want it purged", id, err)
		}
		if eps, err := f.store.LoadHistory(ctx, id, "e1"); err != nil || len(eps) != 0 {
			t.Errorf("%s's history after the sweep: %d episodes, %v", id, len(eps), err)
		}
	}
	for _, id := range []string{"old-running", "young"} {
		if _, err := f.store.GetInstance(ctx, id); err != nil {
			t.Errorf("%s was purged: %v", id, err)
		}
	}
	if got := scrapeWorker(t, w).Value("warren_worker_instances_purged_total"); got != old {
		t.Errorf("warren_worker_instances_purged_total = %v, want %d", got, old)
	}
	if n := w.w.purgeExpired(ctx); n != 0 {
		t.Errorf("a second sweep purged %d", n)
	}
}

func TestRetentionMustNotBeNegative(t *testing.T) {
	f := newFleet(t, durable.NewRegistry(), nil, nil)
	if _, err := New(Config{Hub: "h", Partitions: 1, Retention: -time.Hour}, f.store, nil, f.reg); err == nil {
		t.Fatal("a negative retention was taken")
	}
}
