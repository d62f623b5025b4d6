package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// rewindRegistry: Pipeline runs Step "a", Flaky (which fails on its first attempt) and
// Step "c"; Parent runs Step "p" and a Pipeline child. ran counts each activity's runs.
func rewindRegistry(t *testing.T, ran map[string]int) *durable.Registry {
	r := durable.NewRegistry()
	pipeline := func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var a, f, c string
		if err := ctx.CallActivity("Step", "a").Await(&a); err != nil {
			return "", err
		}
		if err := ctx.CallActivity("Flaky", nil).Await(&f); err != nil {
			return "", err
		}
		err := ctx.CallActivity("Step", "c").Await(&c)
		return a + "|" + f + "|" + c, err
	}
	must(t, errors.Join(
		durable.AddActivity(r, "Step", func(_ context.Context, name string) (string, error) {
			ran["Step "+name]++
			return name, nil
		}),
		durable.AddActivity(r, "Flaky", func(ctx context.Context, _ any) (string, error) {
			ran["Flaky"]++
			if a := durable.GetActivityInfo(ctx).Attempt; a > 1 {
				return fmt.Sprintf("attempt %d", a), nil
			}
			return "", errors.New("flaky on attempt 1")
		}),
		durable.AddOrchestrator(r, "Pipeline", pipeline),
		durable.AddOrchestrator(r, "Parent", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			var p, child string
			if err := ctx.CallActivity("Step", "p").Await(&p); err != nil {
				return "", err
			}
			err := ctx.CallSubOrchestrator("Pipeline", nil).Await(&child)
			return p + "(" + child + ")", err
		}),
	))
	return r
}

// rewind sends an ExecutionRewound for the instance's current execution, as the
// dispatcher does.
func (f *fleet) rewind(id string) {
	inst, err := f.store.GetInstance(context.Background(), id)
	must(f.t, err)
	ev := history.Event{Version: history.SchemaVersion, Kind: history.ExecutionRewound, ExecutionID: inst.ExecutionID + "r", Timestamp: f.now}
	body, _ := json.Marshal(history.ControlMessage{InstanceID: id, ExecutionID: inst.ExecutionID, Event: ev})
	must(f.t, f.broker.Connect("dispatcher").Publish(context.Background(), queues.ControlQueue("h", 0),
		queues.Message{ID: "rewind-" + ev.ExecutionID, Kind: string(ev.Kind), InstanceID: id, Body: body}))
}

// A worker rewinds a failed instance, and a failed parent with its failed child: the
// failed activity runs again as attempt 2, nothing that completed runs again, and the new
// executions complete. A rewind of an instance that has not failed is dead-lettered.
func TestRewindOnAWorker(t *testing.T) {
	ran := map[string]int{}
	f := newFleet(t, rewindRegistry(t, ran), nil, nil)
	w, _ := f.worker("w")
	f.start("pipe", "Pipeline", "null")
	f.start("parent", "Parent", "null")
	f.run(w)
	for _, id := range []string{"pipe", "parent", "parent:2"} {
		if inst := f.settle(w, id); inst.Status != history.StatusFailed {
			t.Fatalf("%s: %s, want Failed", id, inst.Status)
		}
	}
	f.rewind("pipe")
	f.rewind("parent")
	f.run(w)
	for id, want := range map[string]string{"pipe": `"a|attempt 2|c"`, "parent": `"p(a|attempt 2|c)"`, "parent:2": `"a|attempt 2|c"`} {
		inst := f.settle(w, id)
		if inst.Status != history.StatusCompleted || string(inst.Output) != want || inst.Executions != 2 {
			t.Errorf("%s: %s %s (%v), execution %d; want Completed with %s in execution 2", id, inst.Status, inst.Output, inst.Failure, inst.Executions, want)
		}
	}
	if ran["Step a"] != 2 || ran["Step p"] != 1 || ran["Flaky"] != 4 || ran["Step c"] != 2 {
		t.Fatalf("runs %v, want Step a and c twice (one per pipeline), Step p once, Flaky four times", ran)
	}
	evs := flatten(mustHistory(t, f, "parent:2"))
	if evs[1].Kind != history.ExecutionStarted || evs[1].Parent == nil || evs[1].Parent.ExecutionID != "e1r" || len(evs[1].RewoundFrom) != 1 {
		t.Fatalf("the rewound child's start: %+v", evs[1])
	}

	f.rewind("pipe") // Completed
	f.run(w)
	if dl := f.broker.DeadLetters(); len(dl) != 1 || dl[0].InstanceID != "pipe" {
		t.Fatalf("dead letters %+v, want the rewind of the completed instance", dl)
	}
}
