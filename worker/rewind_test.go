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
		durable.AddOrchestrator(r, "WaitGo", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			var word string
			err := ctx.WaitForExternalEvent("Go", 0).Await(&word)
			return word, err
		}),
		durable.AddOrchestrator(r, "TwoChildren", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			var a, b string
			pipe, wait := ctx.CallSubOrchestrator("Pipeline", nil), ctx.CallSubOrchestrator("WaitGo", nil)
			if err := pipe.Await(&a); err != nil {
				return "", err
			}
			err := wait.Await(&b)
			return a + "+" + b, err
		}),
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

// A parent that failed while another child still ran is rewound with the failed child;
// the other child's end reaches the rewound parent whether it came before the rewind
// (the failed parent dropped it: the child reports it again) or after (addressed to the
// failed execution, which the rewound one was rewound from).
func TestRewindWithAChildStillRunning(t *testing.T) {
	for _, goFirst := range []bool{true, false} {
		ran := map[string]int{}
		f := newFleet(t, rewindRegistry(t, ran), nil, nil)
		w, _ := f.worker("w")
		f.start("two", "TwoChildren", "null")
		f.run(w)
		if inst := f.settle(w, "two"); inst.Status != history.StatusFailed {
			t.Fatalf("%s, want Failed", inst.Status)
		}
		goEv := history.Event{Version: 1, Kind: history.EventRaised, Name: "Go", Input: json.RawMessage(`"went"`)}
		if goFirst {
			f.send("two:2", "go", goEv)
			f.run(w)
			if inst := f.settle(w, "two:2"); inst.Status != history.StatusCompleted {
				t.Fatalf("the waiting child: %s, want Completed", inst.Status)
			}
		}
		f.rewind("two")
		f.run(w)
		if !goFirst {
			if inst := f.settle(w, "two"); inst.Status != history.StatusRunning {
				t.Fatalf("after the rewind: %s, want Running (its second child waits)", inst.Status)
			}
			f.send("two:2", "go", goEv)
			f.run(w)
		}
		if inst := f.settle(w, "two"); inst.Status != history.StatusCompleted || string(inst.Output) != `"a|attempt 2|c+went"` {
			t.Errorf("go first %v: %s %s (%v), want Completed with a|attempt 2|c+went", goFirst, inst.Status, inst.Output, inst.Failure)
		}
		if ran["Step a"] != 1 || ran["Flaky"] != 2 {
			t.Errorf("go first %v: runs %v", goFirst, ran)
		}
	}
}

// A parent whose failed child is gone (purged) when the parent is rewound learns so
// (RewindRefused) and fails again, rather than wait for ever.
func TestRewindOfAParentWhoseChildIsGone(t *testing.T) {
	f := newFleet(t, rewindRegistry(t, map[string]int{}), nil, nil)
	w, _ := f.worker("w")
	f.start("parent", "Parent", "null")
	f.run(w)
	f.settle(w, "parent")
	must(t, f.store.Purge(context.Background(), "parent:2"))
	f.rewind("parent")
	f.run(w)
	inst := f.settle(w, "parent")
	if inst.Status != history.StatusFailed || inst.Executions != 2 || inst.Failure == nil ||
		!strings.Contains(inst.Failure.Error(), durable.RewindRefused+`: child "parent:2" cannot be rewound with its parent: it does not exist`) {
		t.Fatalf("%s in execution %d (%v), want the rewound execution Failed with RewindRefused", inst.Status, inst.Executions, inst.Failure)
	}
}

// A worker that dies between writing the rewound execution's document and committing its
// first episode leaves the document naming an execution without history; the next worker
// still rewinds the instance from the failed execution, which the document keeps naming.
func TestRewindAfterACrashBeforeItsCommit(t *testing.T) {
	ran := map[string]int{}
	f := newFleet(t, rewindRegistry(t, ran), nil, nil)
	ctx := context.Background()
	crash := false
	conn1 := f.broker.Connect("w1")
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w1", Now: f.clock, Logger: slog.New(slog.DiscardHandler)},
		f.store, memConn{conn1}, f.reg)
	must(t, err)
	w1 := w.Steps(func(point string) bool { return crash && point == "planned" })
	must(t, w1.Subscribe(ctx))
	w1.Heartbeat(ctx)
	f.start("pipe", "Pipeline", "null")
	f.run(w1)
	if inst := f.settle(w1, "pipe"); inst.Status != history.StatusFailed {
		t.Fatalf("%s, want Failed", inst.Status)
	}
	crash = true
	f.rewind("pipe")
	f.run(w1)
	if inst, _ := f.store.GetInstance(ctx, "pipe"); inst.Executions != 2 || inst.Status != history.StatusPending {
		t.Fatalf("after the crash the document is %+v; want the rewound execution's, Pending", inst)
	}
	_ = conn1.Close()
	f.now = f.now.Add(10 * time.Second)
	w2, _ := f.worker("w2")
	inst := f.settle(w2, "pipe")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"a|attempt 2|c"` || ran["Step a"] != 1 {
		t.Fatalf("%s %s (%v) after runs %v; want Completed with a|attempt 2|c, Step a run once", inst.Status, inst.Output, inst.Failure, ran)
	}
}
