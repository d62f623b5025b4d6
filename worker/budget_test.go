package worker

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
)

// hangingLoads is a store on which reading one instance hangs until the caller gives up, as
// a look-up does on a store that a fault left with more work than it can answer in time.
type hangingLoads struct {
	history.Store
	id    string
	armed atomic.Bool
}

func (s *hangingLoads) GetInstance(ctx context.Context, id string) (*history.Instance, error) {
	if id == s.id && s.armed.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Store.GetInstance(ctx, id)
}

// A batch whose loads cannot all finish in its time still commits the episodes of the
// instances it did load, and hands the rest back for the next batch: a slow store makes
// the fleet slower, never stuck (issue 10: after connections were reset, every batch spent
// its whole time loading and committed nothing, again and again).
func TestSlowLoadDoesNotHoldBackTheRestOfTheBatch(t *testing.T) {
	r := onceRegistry(t, func(context.Context, any) (string, error) { return "done", nil })
	f := newFleet(t, r, nil, nil)
	store := &hangingLoads{Store: f.store, id: "slow"}
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w", Now: f.clock, Logger: slog.New(slog.DiscardHandler)},
		store, memConn{f.broker.Connect("w")}, r)
	must(t, err)
	s := w.Steps(nil)
	ctx := context.Background()
	must(t, s.Subscribe(ctx))
	s.Heartbeat(ctx)
	f.start("fast", "Once", "null")
	f.start("slow", "Once", "null")
	f.deliverAll()
	s.Batch(ctx) // both schedule their activity
	f.deliverAll()
	for s.Activities() > 0 {
		s.RunActivity(ctx, 0) // fast's result first, then slow's
	}
	// Neither is cached any more (as after a fault), and slow's load hangs.
	w.cache.drop("fast")
	w.cache.drop("slow")
	store.armed.Store(true)
	f.deliverAll()
	if s.Inbox() != 2 {
		t.Fatalf("%d results waiting, want 2", s.Inbox())
	}
	bctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	trouble := s.Batch(bctx)
	cancel()
	if !trouble {
		t.Error("the batch whose load hung reports no trouble")
	}
	if s.Inbox() != 1 {
		t.Fatalf("%d messages handed back, want slow's result alone", s.Inbox())
	}
	if st := endedStatus(t, f, "fast"); st != history.StatusCompleted {
		t.Fatalf("fast is %s after the batch, want its episode committed and Completed", st)
	}
	if st := endedStatus(t, f, "slow"); st != "" {
		t.Fatalf("slow is %s, want it still waiting for its load", st)
	}

	store.armed.Store(false)
	s.Batch(ctx)
	if st := endedStatus(t, f, "slow"); st != history.StatusCompleted {
		t.Fatalf("slow is %s once the store answers, want Completed", st)
	}
}

// endedStatus is how an instance's committed history says it ended, "" while it runs.
func endedStatus(t *testing.T, f *fleet, id string) history.Status {
	t.Helper()
	ctx := context.Background()
	inst, err := f.store.GetInstance(ctx, id)
	must(t, err)
	eps, err := f.store.LoadHistory(ctx, id, inst.ExecutionID)
	must(t, err)
	for _, ep := range eps {
		for _, ev := range ep.Events {
			if ev.Kind == history.ExecutionCompleted {
				return history.StatusCompleted
			}
			if ev.Kind == history.ExecutionFailed {
				return history.StatusFailed
			}
		}
	}
	return ""
}

// A batch of instances none of which is cached (as after a fault that dropped their states)
// loads them with one query for their documents and one for their histories, not two per
// instance, and their episodes commit as they would have.
func TestUncachedInstancesOfABatchLoadTogether(t *testing.T) {
	r := onceRegistry(t, func(context.Context, any) (string, error) { return "done", nil })
	ops := map[string]int{}
	var counting atomic.Bool
	f := newFleet(t, r, func(op memstore.Op) memstore.Fault {
		if counting.Load() {
			ops[op.Kind]++
		}
		return memstore.Fault{}
	}, nil)
	s, _ := f.worker("w")
	ids := []string{"i0", "i1", "i2", "i3", "i4", "i5"}
	for _, id := range ids {
		f.start(id, "Once", "null")
	}
	ctx := context.Background()
	f.deliverAll()
	s.Batch(ctx)
	f.deliverAll()
	for s.Activities() > 0 {
		s.RunActivity(ctx, 0)
	}
	for _, id := range ids {
		s.w.cache.drop(id)
	}
	f.deliverAll()
	counting.Store(true)
	if trouble := s.Batch(ctx); trouble {
		t.Fatal("the batch reports trouble")
	}
	counting.Store(false)
	if ops[memstore.OpGetInstances] != 1 || ops[memstore.OpLoadHistories] != 1 || ops[memstore.OpGetInstance] != 0 || ops[memstore.OpLoadHistory] != 0 {
		t.Errorf("store operations %v, want one GetInstances and one LoadHistories, no look-up of one instance", ops)
	}
	for _, id := range ids {
		if st := endedStatus(t, f, id); st != history.StatusCompleted {
			t.Errorf("%s is %q, want Completed", id, st)
		}
	}
}
