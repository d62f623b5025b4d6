package durable_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
)

// rewindRegistry: Pipeline runs Step "a", Flaky (which fails on its first attempt,
// heartbeating first) and Step "c"; Waiting creates a timer and waits for an event before
// Flaky fails, and awaits both after it; Parent runs Step "p" and a Pipeline child. ran
// counts the runs of each activity.
func rewindRegistry(t *testing.T, ran map[string]int) *durable.Registry {
	t.Helper()
	r := durable.NewRegistry()
	step := func(ctx *durable.OrchestrationContext, name string) (string, error) {
		var out string
		err := ctx.CallActivity("Step", name).Await(&out)
		return out, err
	}
	pipeline := func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		a, err := step(ctx, "a")
		if err != nil {
			return "", err
		}
		var f string
		if err := ctx.CallActivity("Flaky", nil).Await(&f); err != nil {
			return "", err
		}
		c, err := step(ctx, "c")
		return a + "|" + f + "|" + c, err
	}
	must(t, errors.Join(
		durable.AddActivity(r, "Step", func(_ context.Context, name string) (string, error) {
			ran["Step "+name]++
			return name, nil
		}),
		durable.AddActivity(r, "Flaky", func(ctx context.Context, _ any) (string, error) {
			ran["Flaky"]++
			info := durable.GetActivityInfo(ctx)
			if info.Attempt == 1 {
				durable.Heartbeat(ctx, "half way")
				return "", errors.New("flaky on attempt 1")
			}
			var last string
			durable.LastHeartbeat(ctx, &last)
			return fmt.Sprintf("attempt %d after %q", info.Attempt, last), nil
		}),
		durable.AddOrchestrator(r, "Pipeline", pipeline),
		durable.AddOrchestrator(r, "Waiting", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			began := ctx.CurrentTime()
			timer := ctx.CreateTimer(time.Hour)
			event := ctx.WaitForExternalEvent("Go", 0)
			if err := ctx.CallActivity("Flaky", nil).Await(nil); err != nil {
				return "", err
			}
			var word string
			if err := durable.WhenAll(timer, event).Await(&[]any{nil, &word}); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s after %s", word, ctx.CurrentTime().Sub(began)), nil
		}),
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
			p, err := step(ctx, "p")
			if err != nil {
				return "", err
			}
			var child string
			err = ctx.CallSubOrchestrator("Pipeline", nil, durable.WithInstanceID("the-child")).Await(&child)
			return p + "<" + child + ">", err
		}),
	))
	return r
}

// A rewound instance runs again from just before its failure: the failed activity as its
// next attempt, with the failure's heartbeat details; the activity before it does not run
// again; the history shows the rewind and replays.
func TestRewindRunsTheFailedActivityAgain(t *testing.T) {
	ran := map[string]int{}
	r := rewindRegistry(t, ran)
	h := durabletest.New(r)
	must(t, h.Start("Pipeline", "p-1", nil))
	must(t, h.Run())
	if s := h.Status("p-1"); s != history.StatusFailed {
		t.Fatalf("status %s, want Failed", s)
	}
	failedExec := execution(h.History("p-1"))
	must(t, h.Rewind("p-1", "fixed"))
	must(t, h.Run())
	var out string
	must(t, h.Output("p-1", &out))
	if out != `a|attempt 2 after "half way"|c` {
		t.Fatalf("output %q", out)
	}
	if ran["Step a"] != 1 || ran["Flaky"] != 2 || ran["Step c"] != 1 {
		t.Fatalf("runs %v, want Step a once, Flaky twice, Step c once", ran)
	}
	evs := h.History("p-1")
	var kinds []string
	for _, ev := range evs {
		switch ev.Kind {
		case history.ExecutionStarted:
			if len(ev.RewoundFrom) != 1 || ev.RewoundFrom[0] != failedExec || ev.ExecutionID == failedExec {
				t.Errorf("start %+v, want a new execution rewound from %s", ev, failedExec)
			}
		case history.TaskScheduled:
			kinds = append(kinds, fmt.Sprintf("%s#%d", ev.Name, ev.Attempt))
		case history.ExecutionRewound:
			kinds = append(kinds, "rewound("+ev.Reason+")")
		case history.TaskFailed, history.ExecutionFailed:
			t.Errorf("the rewound history holds %s", ev.Kind)
		}
	}
	if got := strings.Join(kinds, " "); got != "Step#1 Flaky#2 rewound(fixed) Step#1" {
		t.Fatalf("history: %s", got)
	}
	if err := durabletest.Replay(r, evs); err != nil {
		t.Fatalf("the rewound history does not replay: %v", err)
	}
}

// The timer and the event an instance still waited for when it failed are awaited again;
// an event it had received stays received.
func TestRewindAwaitsPendingTimersAndEvents(t *testing.T) {
	for _, early := range []bool{false, true} {
		h := durabletest.New(rewindRegistry(t, map[string]int{}))
		must(t, h.Start("Waiting", "w", nil))
		if early {
			must(t, h.RaiseEvent("w", "Go", "early"))
		}
		must(t, h.Run())
		if s := h.Status("w"); s != history.StatusFailed {
			t.Fatalf("status %s, want Failed", s)
		}
		must(t, h.Rewind("w", ""))
		must(t, h.RunUntilIdle())
		if s := h.Status("w"); s != history.StatusRunning {
			t.Fatalf("after the rewind: %s, want Running (the timer is an hour away)", s)
		}
		if !early {
			must(t, h.RaiseEvent("w", "Go", "late"))
		}
		must(t, h.Run())
		want := "late after 1h0m0s"
		if early {
			want = "early after 1h0m0s"
		}
		wantOutput(t, h, "w", want)
	}
}

// A parent that failed because its child failed is rewound with the child: the child runs
// its failed activity again under the parent's new execution, and nothing that completed
// runs again.
func TestRewindRewindsTheFailedChild(t *testing.T) {
	ran := map[string]int{}
	h := durabletest.New(rewindRegistry(t, ran))
	must(t, h.Start("Parent", "parent", nil))
	must(t, h.Run())
	if h.Status("parent") != history.StatusFailed || h.Status("the-child") != history.StatusFailed {
		t.Fatalf("parent %s, child %s: want both Failed", h.Status("parent"), h.Status("the-child"))
	}
	must(t, h.Rewind("parent", ""))
	must(t, h.Run())
	wantOutput(t, h, "parent", `p<a|attempt 2 after "half way"|c>`)
	if ran["Step p"] != 1 || ran["Step a"] != 1 || ran["Flaky"] != 2 || ran["Step c"] != 1 {
		t.Fatalf("runs %v", ran)
	}
	var parentExec string
	for _, ev := range h.History("parent") {
		if ev.Kind == history.ExecutionStarted {
			parentExec = ev.ExecutionID
		}
	}
	for _, ev := range h.History("the-child") {
		if ev.Kind == history.ExecutionStarted && (ev.Parent == nil || ev.Parent.ExecutionID != parentExec || len(ev.RewoundFrom) != 1) {
			t.Fatalf("child start %+v, want it rewound under the parent's execution %s", ev, parentExec)
		}
	}
}

// Only a Failed instance can be rewound.
func TestRewindRefusesWhatHasNotFailed(t *testing.T) {
	h := durabletest.New(rewindRegistry(t, map[string]int{}))
	must(t, h.Start("Waiting", "w", nil))
	must(t, h.RunUntilIdle())
	must(t, h.Rewind("w", ""))
	must(t, h.RunUntilIdle())
	refused := func(id, want string) {
		t.Helper()
		if err := h.Rewind(id, ""); err == nil || err.Error() != want {
			t.Errorf("Rewind(%s): %v, want %q", id, err, want)
		}
	}
	refused("w", `instance "w" is Running; only a Failed instance can be rewound`)
	refused("ghost", `no instance "ghost"`)
	must(t, h.RaiseEvent("w", "Go", "now"))
	must(t, h.Run())
	refused("w", `instance "w" is Completed; only a Failed instance can be rewound`)
}

// A parent that failed while another child still ran is rewound with the failed child;
// the other child's end reaches the rewound parent whether it came before the rewind or
// after (as on a worker: TestRewindWithAChildStillRunning).
func TestRewindWithAChildStillRunning(t *testing.T) {
	for _, goFirst := range []bool{true, false} {
		h := durabletest.New(rewindRegistry(t, map[string]int{}))
		must(t, h.Start("TwoChildren", "two", nil))
		must(t, h.Run())
		if h.Status("two") != history.StatusFailed || h.Status("two:2") != history.StatusRunning {
			t.Fatalf("parent %s, waiting child %s", h.Status("two"), h.Status("two:2"))
		}
		if goFirst {
			must(t, h.RaiseEvent("two:2", "Go", "went"))
			must(t, h.Run())
		}
		must(t, h.Rewind("two", ""))
		must(t, h.Run())
		if !goFirst {
			must(t, h.RaiseEvent("two:2", "Go", "went"))
			must(t, h.Run())
		}
		wantOutput(t, h, "two", `a|attempt 2 after "half way"|c+went`)
	}
}

// A parent whose failed child is gone (purged) when the parent is rewound learns so and
// fails again, rather than wait for ever.
func TestRewindOfAParentWhoseChildIsGone(t *testing.T) {
	h := durabletest.New(rewindRegistry(t, map[string]int{}))
	must(t, h.Start("Parent", "parent", nil))
	must(t, h.Run())
	must(t, h.Purge("the-child", false))
	must(t, h.Rewind("parent", ""))
	must(t, h.Run())
	if f := h.Failure("parent"); h.Status("parent") != history.StatusFailed || f == nil ||
		!strings.Contains(f.Error(), durable.RewindRefused+`: child "the-child" cannot be rewound with its parent: it does not exist`) {
		t.Fatalf("%s (%v), want Failed with RewindRefused", h.Status("parent"), f)
	}
}

func execution(evs []history.Event) string {
	for _, ev := range evs {
		if ev.Kind == history.ExecutionStarted {
			return ev.ExecutionID
		}
	}
	return ""
}
