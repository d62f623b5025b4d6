package worker

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/retrypolicy"
)

// Continue-as-new through the fleet: each execution is a new execution id with a history of
// its own, an event raised for the instance reaches the execution that waits for it, and
// the instance document follows the latest execution.
func TestContinueAsNewRunsNewExecutions(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Counter", func(ctx *durable.OrchestrationContext, n int) (int, error) {
		if n < 3 {
			ctx.ContinueAsNew(n+1, durable.KeepEvents())
			return 0, nil
		}
		var last string
		if err := ctx.WaitForExternalEvent("last", 0).Await(&last); err != nil {
			return 0, err
		}
		return n * 10, nil
	}))
	rg := startRig(t, r)
	rg.start("counter-1", "Counter", "start-counter-1")
	var inst *history.Instance
	rg.waitFor("the third execution running", func() bool {
		i, err := rg.store.GetInstance(context.Background(), "counter-1")
		if err != nil || i.ExecutionID == "exec-1" || i.Status != history.StatusRunning {
			return false
		}
		eps, err := rg.store.LoadHistory(context.Background(), "counter-1", i.ExecutionID)
		if err != nil || len(eps) == 0 {
			return false
		}
		var in string
		for _, ev := range eps[0].Events {
			if ev.Kind == history.ExecutionStarted {
				in = string(ev.Input)
			}
		}
		inst = i
		return in == "3"
	})
	rg.send("counter-1", "last-1", history.Event{Version: history.SchemaVersion, Kind: history.EventRaised, Name: "last", Input: []byte(`"go"`)})
	done := rg.waitStatus("counter-1", history.StatusCompleted)
	if string(done.Output) != "30" || done.ExecutionID != inst.ExecutionID {
		t.Fatalf("instance %+v, want output 30 from execution %s", done, inst.ExecutionID)
	}
	first := rg.events("counter-1") // execution exec-1
	if count(first, history.ContinuedAsNew) != 1 || count(first, history.ExecutionCompleted) != 0 {
		t.Fatalf("the first execution's history: %+v", first)
	}
}

// A child that fails is retried under the parent's policy as a new execution with the same
// instance id, and the parent completes with the second execution's result.
func TestRetriedChildKeepsItsInstanceID(t *testing.T) {
	var calls atomic.Int32
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Parent", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var out string
		err := ctx.CallSubOrchestrator("Child", nil, durable.WithInstanceID("the-child"),
			durable.WithRetry(retrypolicy.Policy{MaxAttempts: 3, FirstInterval: 100 * time.Millisecond, BackoffCoefficient: 1})).Await(&out)
		return out, err
	}))
	must(t, durable.AddOrchestrator(r, "Child", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var out string
		err := ctx.CallActivity("FailOnce", nil).Await(&out)
		return out, err
	}))
	must(t, durable.AddActivity(r, "FailOnce", func(ctx context.Context, _ any) (string, error) {
		if calls.Add(1) == 1 {
			return "", errors.New("first call fails")
		}
		return "second call works", nil
	}))
	rg := startRig(t, r)
	rg.start("parent-1", "Parent", "start-parent-1")
	parent := rg.waitStatus("parent-1", history.StatusCompleted)
	if string(parent.Output) != `"second call works"` {
		t.Fatalf("parent output %s", parent.Output)
	}
	child := rg.waitStatus("the-child", history.StatusCompleted)
	if child.ParentInstanceID != "parent-1" || calls.Load() != 2 {
		t.Fatalf("child %+v after %d activity calls", child, calls.Load())
	}
	evs := rg.events("parent-1")
	if count(evs, history.SubOrchestrationCreated) != 2 || count(evs, history.SubOrchestrationFailed) != 1 ||
		count(evs, history.SubOrchestrationCompleted) != 1 {
		t.Fatalf("parent history: %d created, %d failed, %d completed", count(evs, history.SubOrchestrationCreated),
			count(evs, history.SubOrchestrationFailed), count(evs, history.SubOrchestrationCompleted))
	}
}

// A late copy of a continue-as-new's start, delivered after the execution it began has
// continued as new twice more and ended, is dropped: begun again, it wrote the instance
// document back to that execution, which no later write could then correct (simulation
// seed 52961). (A copy one execution late is known to the next one's state.)
func TestALateCopyOfAContinueAsNewStartIsDropped(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Four", func(ctx *durable.OrchestrationContext, n int) (int, error) {
		if n < 3 {
			ctx.ContinueAsNew(n + 1)
			return 0, nil
		}
		return n, nil
	}))
	f := newFleet(t, r, nil, nil)
	w, _ := f.workerConn("w", Config{})
	f.start("four", "Four", "0")
	f.run1(w) // execution 1 continues as new
	queue := queues.ControlQueue("h", 0)
	pending := f.broker.Pending(queue)
	if len(pending) != 1 || pending[0].Kind != string(history.ExecutionStarted) {
		t.Fatalf("control queue holds %+v, want the start of execution 2", pending)
	}
	var cm history.ControlMessage
	must(t, json.Unmarshal(pending[0].Body, &cm))
	if cm.Execution != 2 {
		t.Fatalf("the start of execution 2 says it begins execution %d", cm.Execution)
	}
	done := f.settle(w, "four")
	if done.Status != history.StatusCompleted || string(done.Output) != "3" || done.Executions != 4 {
		t.Fatalf("instance %+v, want Completed with 3 in its fourth execution", done)
	}
	must(t, f.broker.Connect("late").Publish(context.Background(), queue, pending[0]))
	after := f.settle(w, "four")
	if after.Status != history.StatusCompleted || after.ExecutionID != done.ExecutionID || after.Executions != 4 {
		t.Errorf("after the late copy: %s, execution %s (number %d); want Completed, %s (4)",
			after.Status, after.ExecutionID, after.Executions, done.ExecutionID)
	}
	if eps, err := f.store.LoadHistory(context.Background(), "four", cm.ExecutionID); err != nil || len(eps) != 1 {
		t.Errorf("execution 2 has %d episodes (%v), want its one", len(eps), err)
	}
}
