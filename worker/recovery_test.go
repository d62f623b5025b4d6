package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/queues"
)

// fleet is a hub on the in-memory broker and store with workers driven step by step, on a
// virtual clock the test moves.
type fleet struct {
	t      *testing.T
	now    time.Time
	store  *memstore.Store
	broker *membroker.Broker
	reg    *durable.Registry
}

func newFleet(t *testing.T, reg *durable.Registry, storeFaults func(memstore.Op) memstore.Fault, brokerFaults func(membroker.FaultPoint) membroker.Fault) *fleet {
	f := &fleet{t: t, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), reg: reg}
	f.store = memstore.New(memstore.Options{Now: f.clock, Faults: storeFaults})
	f.broker = membroker.New(membroker.Options{Hub: "h", Partitions: 1, Now: f.clock, Faults: brokerFaults})
	return f
}

func (f *fleet) clock() time.Time { return f.now }

func (f *fleet) worker(id string) (*Steps, *membroker.Conn) {
	return f.workerConn(id, Config{TimerGrace: 30 * time.Second})
}

// workerConn is a stepped worker with cfg on the fleet's hub, subscribed and with its first
// heartbeat written, and its broker connection.
func (f *fleet) workerConn(id string, cfg Config) (*Steps, *membroker.Conn) {
	conn := f.broker.Connect(id)
	cfg.Hub, cfg.Partitions, cfg.WorkerID, cfg.Now = "h", 1, id, f.clock
	cfg.Logger = slog.New(slog.DiscardHandler)
	w, err := New(cfg, f.store, memConn{conn}, f.reg)
	must(f.t, err)
	s := w.Steps(nil)
	must(f.t, s.Subscribe(context.Background()))
	s.Heartbeat(context.Background())
	return s, conn
}

// start records an instance as the dispatcher does and sends its start.
func (f *fleet) start(id, name string, input string) {
	ctx := context.Background()
	must(f.t, f.store.CreateInstance(ctx, &history.Instance{InstanceID: id, Name: name, ExecutionID: "e1",
		Status: history.StatusPending, Executions: 1, CreatedAt: f.now, LastUpdatedAt: f.now}))
	ev := history.Event{Version: history.SchemaVersion, Kind: history.ExecutionStarted, Name: name,
		Input: json.RawMessage(input), ExecutionID: "e1"}
	body, _ := json.Marshal(history.ControlMessage{InstanceID: id, ExecutionID: "e1", Event: ev, Recorded: 1})
	must(f.t, f.broker.Connect("dispatcher").Publish(ctx, queues.ControlQueue("h", 0),
		queues.Message{ID: "start-" + id, Kind: string(ev.Kind), InstanceID: id, Body: body}))
}

// settle runs the worker until nothing is left to do now, writes the documents it owes,
// and reports the instance.
func (f *fleet) settle(s *Steps, id string) *history.Instance {
	ctx := context.Background()
	f.run(s)
	if s.FlushDocs(ctx) || s.DocsOwed() != 0 {
		f.t.Fatalf("%d instance documents still owed after a flush", s.DocsOwed())
	}
	inst, err := f.store.GetInstance(ctx, id)
	must(f.t, err)
	return inst
}

// run delivers and processes everything due, without writing documents.
func (f *fleet) run(s *Steps) {
	ctx := context.Background()
	for range 100 {
		f.broker.Tick()
		for rs := f.broker.Ready(); len(rs) > 0; rs = f.broker.Ready() {
			f.broker.Deliver(rs[0])
		}
		if s.Inbox() == 0 && s.Activities() == 0 {
			return
		}
		s.Batch(ctx)
		for s.Activities() > 0 {
			s.RunActivity(ctx, 0)
		}
	}
}

// onceRegistry registers "Once", an orchestrator that returns what its one call of the
// activity "Slow" returns, and act as "Slow".
func onceRegistry(t *testing.T, act func(context.Context, any) (string, error)) *durable.Registry {
	t.Helper()
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Once", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var s string
		err := ctx.CallActivity("Slow", nil).Await(&s)
		return s, err
	}))
	must(t, durable.AddActivity(r, "Slow", act))
	return r
}

// A durable timer the broker lost, for an instance no worker has in its cache (its worker
// died), is sent again by the worker that takes the partition (issue 8, defect 10e).
func TestLostTimerOfUncachedInstanceIsSentAgain(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Nap", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		return "woke", ctx.CreateTimer(time.Minute).Await(nil)
	}))
	f := newFleet(t, r, nil, nil)
	// The first worker schedules the timer and dies; the broker loses the timer (here: the
	// fleet moves to an empty broker, which holds nothing of it).
	w1, conn1 := f.worker("w1")
	f.start("nap", "Nap", "null")
	if inst := f.settle(w1, "nap"); inst.Status != history.StatusRunning {
		t.Fatalf("instance %+v, want it running, waiting for its timer", inst)
	}
	if n := f.broker.Scheduled(); n != 1 {
		t.Fatalf("%d messages scheduled, want the timer", n)
	}
	_ = conn1.Close()
	f.broker = membroker.New(membroker.Options{Hub: "h", Partitions: 1, Now: f.clock})

	// A new worker takes the partition with nothing in its cache.
	f.now = f.now.Add(10 * time.Second)
	w2, _ := f.worker("w2")
	f.now = f.now.Add(2 * time.Minute) // the timer is long overdue
	w2.SweepTimers(context.Background())
	inst := f.settle(w2, "nap")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"woke"` {
		t.Fatalf("instance %+v, want Completed with \"woke\"", inst)
	}
}

// After continue-as-new, if the write of the document that shows it fails and the worker
// dies, the next execution still begins on another worker, from what history says (issue 8,
// defect 3: the start was refused for ever because the document still said Running).
func TestNextExecutionBeginsAfterALostDocumentWrite(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Again", func(ctx *durable.OrchestrationContext, n int) (string, error) {
		if n == 0 {
			ctx.ContinueAsNew(1)
			return "", nil
		}
		return "done", nil
	}))
	updates := 0
	f := newFleet(t, r, func(op memstore.Op) memstore.Fault {
		if op.Kind == memstore.OpUpdateInstances {
			if updates++; updates == 1 {
				return memstore.Fault{Err: errors.New("test: the write of the continued-as-new document fails")}
			}
		}
		return memstore.Fault{}
	}, nil)
	w1, conn1 := f.worker("w1")
	f.start("again", "Again", "0")
	w1.Batch(context.Background()) // nothing delivered yet
	for rs := f.broker.Ready(); len(rs) > 0; rs = f.broker.Ready() {
		f.broker.Deliver(rs[0])
	}
	w1.Batch(context.Background())     // the first execution continues as new
	w1.FlushDocs(context.Background()) // and the write of its document fails
	if updates != 1 || w1.DocsOwed() != 1 {
		t.Fatalf("%d document writes, %d owed, want the one that failed, still owed", updates, w1.DocsOwed())
	}
	_ = conn1.Close() // w1 dies with the start unacked
	f.now = f.now.Add(10 * time.Second)
	w2, _ := f.worker("w2")
	inst := f.settle(w2, "again")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"done"` || inst.Executions != 2 {
		t.Fatalf("instance %+v, want the second execution Completed with \"done\"", inst)
	}
}

// A work item that keeps coming back without a result (its workers die, or lose their
// connection, before running it) is renewed on the last delivery the queue's limit allows —
// a fresh copy carrying the count, so the broker never dead-letters it — and fails its task
// once it has used up its delivery budget, so the orchestration learns of it instead of
// waiting for a result the dead-letter queue swallowed (issue 8, defect 8; issue 10).
func TestWorkItemAtItsDeliveryBudgetFailsItsTask(t *testing.T) {
	ran := 0
	r := onceRegistry(t, func(context.Context, any) (string, error) { ran++; return "ran", nil })
	f := newFleet(t, r, nil, nil)
	ctx := context.Background()
	w, conn := f.worker("w0")
	f.start("once", "Once", "null")
	deliver := func() {
		for rs := f.broker.Ready(); len(rs) > 0; rs = f.broker.Ready() {
			f.broker.Deliver(rs[0])
		}
	}
	deliver()
	w.Batch(ctx) // the episode schedules the activity
	deliver()    // the work item waits in w's hands
	renewals := 0
	for total := 1; total < queues.DefaultDeliveryBudget; total++ {
		if w.Activities() != 1 {
			t.Fatalf("delivery %d: worker holds %d work items, want 1", total, w.Activities())
		}
		if total%queues.DefaultDeliveryLimit == 0 {
			// The broker's last delivery: the worker renews the item instead of running it.
			w.RunActivity(ctx, 0)
			renewals++
			deliver()
			if w.Activities() != 1 || w.items[0].DeliveryCount != 1 || w.items[0].PriorDeliveries != total || ran != 0 {
				t.Fatalf("after delivery %d: %d runs, worker holds %d items; want a fresh copy (delivery 1) carrying %d deliveries, no run",
					total, ran, w.Activities(), total)
			}
			continue
		}
		// The worker dies before running it: the broker counts a return.
		_ = conn.Close()
		f.now = f.now.Add(10 * time.Second) // its heartbeat ages out
		w, conn = f.worker(fmt.Sprintf("w%d", total))
		deliver()
	}
	inst := f.settle(w, "once")
	if inst.Status != history.StatusFailed || inst.Failure == nil || !strings.Contains(inst.Failure.Message, "DeliveryLimitExceeded") || ran != 0 {
		t.Fatalf("instance %+v (failure %+v) after %d runs, want Failed with DeliveryLimitExceeded and no run", inst, inst.Failure, ran)
	}
	if want := (queues.DefaultDeliveryBudget - 1) / queues.DefaultDeliveryLimit; renewals != want {
		t.Fatalf("%d renewals, want %d", renewals, want)
	}
	if n := len(f.broker.DeadLetters()); n != 0 {
		t.Fatalf("%d messages dead-lettered, want none: the task failed before the broker gave up", n)
	}
}

// A renewed work item runs like any other: its result reaches the orchestration.
func TestRenewedWorkItemRuns(t *testing.T) {
	r := onceRegistry(t, func(context.Context, any) (string, error) { return "ran", nil })
	f := newFleet(t, r, nil, nil)
	ctx := context.Background()
	w, conn := f.worker("w0")
	f.start("once", "Once", "null")
	f.deliverAll()
	w.Batch(ctx)
	f.deliverAll()
	for i := 1; i < queues.DefaultDeliveryLimit; i++ {
		_ = conn.Close()
		f.now = f.now.Add(10 * time.Second)
		w, conn = f.worker(fmt.Sprintf("w%d", i))
		f.deliverAll()
	}
	inst := f.settle(w, "once")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"ran"` {
		t.Fatalf("instance %+v (failure %+v), want Completed with \"ran\"", inst, inst.Failure)
	}
	if n := len(f.broker.DeadLetters()); n != 0 {
		t.Fatalf("%d messages dead-lettered, want none", n)
	}
}
