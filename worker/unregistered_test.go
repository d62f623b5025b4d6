package worker

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/retrypolicy"
)

// greetRegistry has orchestrator Greet, which calls activity Salut under a retry policy,
// and Salut only when withSalut.
func greetRegistry(t *testing.T, withSalut bool, ran *int) *durable.Registry {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Greet", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var s string
		err := ctx.CallActivity("Salut", nil, durable.WithRetry(retrypolicy.Policy{MaxAttempts: 3, FirstInterval: time.Second})).Await(&s)
		return s, err
	}))
	if withSalut {
		must(t, durable.AddActivity(r, "Salut", func(context.Context, any) (string, error) { *ran++; return "salut", nil }))
	}
	return r
}

// workerFor is fleet.worker with a registry of the test's.
func (f *fleet) workerFor(id string, reg *durable.Registry) *Steps {
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: id, Now: f.clock, TimerGrace: 30 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}, f.store, memConn{f.broker.Connect(id)}, reg)
	must(f.t, err)
	s := w.Steps(nil)
	must(f.t, s.Subscribe(context.Background()))
	s.Heartbeat(context.Background())
	return s
}

func (f *fleet) deliverAll() {
	for rs := f.broker.Ready(); len(rs) > 0; rs = f.broker.Ready() {
		f.broker.Deliver(rs[0])
	}
}

// During a rolling deploy a worker that lacks an activity another live worker registers
// hands its work item on, and the item reaches that worker as a first delivery.
func TestWorkItemForAnActivityRegisteredElsewhereIsHandedOn(t *testing.T) {
	ran := 0
	f := newFleet(t, nil, nil, nil)
	ctx := context.Background()
	old := f.workerFor("old", greetRegistry(t, false, &ran))
	f.start("g", "Greet", "null")
	f.deliverAll()
	old.Batch(ctx) // the episode schedules Salut
	f.deliverAll()
	if old.Activities() != 1 {
		t.Fatalf("the old worker holds %d work items, want 1", old.Activities())
	}
	// A new worker registering Salut has joined (its heartbeat is live), but its consumer
	// is not up yet: the old worker hands the item on instead of failing it.
	must(t, f.store.Heartbeat(ctx, history.WorkerInfo{WorkerID: "new", Activities: []string{"Salut"}}))
	old.Heartbeat(ctx)
	old.RunActivity(ctx, 0)
	if n := f.broker.Scheduled(); n != 1 {
		t.Fatalf("%d messages scheduled, want the handed-on work item", n)
	}
	if evs := mustHistory(t, f, "g"); count(flatten(evs), history.TaskFailed) != 0 {
		t.Fatalf("the task failed on a worker that lacks the activity")
	}
	_ = old.w.broker.(memConn).Close()  // the old worker leaves: the deploy goes on
	f.now = f.now.Add(10 * time.Second) // its heartbeat ages out; the hand-on's delay is over
	fresh := f.workerFor("new", greetRegistry(t, true, &ran))
	f.broker.Tick()
	f.deliverAll()
	if fresh.Activities() != 1 || fresh.items[0].DeliveryCount != 1 {
		t.Fatalf("the new worker holds %d work items (delivery count %v), want 1 on its first delivery", fresh.Activities(), fresh.items)
	}
	inst := f.settle(fresh, "g")
	if inst.Status != history.StatusCompleted || ran != 1 {
		t.Fatalf("instance %s (failure %v), activity ran %d times; want Completed after one run", inst.Status, inst.Failure, ran)
	}
}

// An activity no live worker registers fails its task at once, whatever the retry policy.
func TestActivityNoLiveWorkerRegistersFailsAtOnce(t *testing.T) {
	ran := 0
	f := newFleet(t, nil, nil, nil)
	w := f.workerFor("w", greetRegistry(t, false, &ran))
	f.start("g", "Greet", "null")
	inst := f.settle(w, "g")
	if inst.Status != history.StatusFailed || inst.Failure == nil || inst.Failure.Cause == nil ||
		inst.Failure.Cause.Type != durable.ActivityNotRegistered ||
		!strings.Contains(inst.Failure.Cause.Message, `activity "Salut" is not registered on any live worker`) {
		t.Fatalf("instance %s, failure %+v; want Failed with ActivityNotRegistered", inst.Status, inst.Failure)
	}
	if n := count(flatten(mustHistory(t, f, "g")), history.TaskScheduled); n != 1 {
		t.Fatalf("%d attempts scheduled, want 1: retrying cannot help", n)
	}
}

func flatten(eps []history.Episode) []history.Event {
	var evs []history.Event
	for _, ep := range eps {
		evs = append(evs, ep.Events...)
	}
	return evs
}
