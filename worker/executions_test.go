package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
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
