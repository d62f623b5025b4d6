package durable_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
)

// TestMain fails the package's tests if any goroutine outlives them: every episode must
// unwind its orchestrator's coroutine.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// seq calls activity A, waits up to an hour for event "go", then runs child C.
func seq(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
	var a string
	if err := ctx.CallActivity("A", "in").Await(&a); err != nil {
		return "", err
	}
	var g string
	if err := ctx.WaitForExternalEvent("go", time.Hour).Await(&g); err != nil {
		return "", err
	}
	var c string
	err := ctx.CallSubOrchestrator("C", g).Await(&c)
	return a + g + c, err
}

func seqRegistry(t testing.TB) *durable.Registry {
	r := durable.NewRegistry()
	if err := durable.AddOrchestrator(r, "Seq", seq); err != nil {
		t.Fatal(err)
	}
	return r
}

func ev(kind history.Kind, ts time.Time, f func(*history.Event)) history.Event {
	e := history.Event{Version: history.VersionOf(kind), Kind: kind, Timestamp: ts}
	if f != nil {
		f(&e)
	}
	return e
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// The episodes of a run of Seq, as the executor records them.
var (
	start = ev(history.ExecutionStarted, at(0), func(e *history.Event) { e.Name, e.ExecutionID, e.Input = "Seq", "x1", raw(`{}`) })
	ep1   = []history.Event{
		ev(history.OrchestratorStarted, at(0), nil), start,
		ev(history.TaskScheduled, at(0), func(e *history.Event) { e.TaskID, e.Name, e.Input, e.Attempt = 1, "A", raw(`"in"`), 1 }),
	}
	doneA = ev(history.TaskCompleted, at(1), func(e *history.Event) { e.TaskID, e.Result = 1, raw(`"a"`) })
	ep2   = []history.Event{
		ev(history.OrchestratorStarted, at(1), nil), doneA,
		ev(history.TimerCreated, at(1), func(e *history.Event) { e.TaskID, e.FireAt = 2, at(61) }),
	}
	goEv = ev(history.EventRaised, at(2), func(e *history.Event) { e.Name, e.Input = "go", raw(`"g"`) })
	ep3  = []history.Event{
		ev(history.OrchestratorStarted, at(2), nil), goEv,
		ev(history.SubOrchestrationCreated, at(2), func(e *history.Event) {
			e.TaskID, e.Name, e.Input, e.InstanceID, e.Attempt = 3, "C", raw(`"g"`), "o:3", 1
		}),
	}
	doneC     = ev(history.SubOrchestrationCompleted, at(3), func(e *history.Event) { e.TaskID, e.Result = 3, raw(`"c"`) })
	suspended = ev(history.ExecutionSuspended, at(2), nil)
	resumed   = ev(history.ExecutionResumed, at(3), nil)
	fired     = ev(history.TimerFired, at(61), func(e *history.Event) { e.TaskID, e.FireAt = 2, at(61) })
)

func concat(parts ...[]history.Event) []history.Event {
	var out []history.Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(e history.Event) []history.Event { return []history.Event{e} }

func describeEvents(evs []history.Event) string {
	var s []string
	for _, e := range evs {
		d := string(e.Kind)
		if e.TaskID != 0 {
			d += fmt.Sprint(" ", e.TaskID)
		}
		s = append(s, d)
	}
	return strings.Join(s, ", ")
}

func describeActions(as []durable.Action) string {
	var s []string
	for _, a := range as {
		s = append(s, fmt.Sprintf("%s %d %s%s", a.Kind, a.TaskID, a.Name, a.InstanceID))
	}
	return strings.Join(s, ", ")
}

func TestReplayTable(t *testing.T) {
	cases := []struct {
		name       string
		past, in   []history.Event
		now        time.Time
		status     history.Status
		newEvents  string
		actions    string
		output     string
		failure    string
		finished   int
		replayedTo string // what NewEvents must equal when run again as history (only the first case)
	}{
		{name: "first episode", in: one(start), now: at(0), status: history.StatusRunning,
			newEvents: "OrchestratorStarted, ExecutionStarted, TaskScheduled 1", actions: "ScheduleActivity 1 A"},
		{name: "activity result arms the wait's timer", past: ep1, in: one(doneA), now: at(1), status: history.StatusRunning,
			newEvents: "OrchestratorStarted, TaskCompleted 1, TimerCreated 2", actions: "CreateTimer 2 "},
		{name: "a duplicate result is left out", past: concat(ep1, ep2), in: one(doneA), now: at(2), status: history.StatusRunning,
			newEvents: "OrchestratorStarted"},
		{name: "two copies of a result in one batch", past: ep1, in: []history.Event{doneA, doneA}, now: at(1), status: history.StatusRunning,
			newEvents: "OrchestratorStarted, TaskCompleted 1, TimerCreated 2", actions: "CreateTimer 2 "},
		{name: "a result for no task is left out", past: ep1,
			in:  one(ev(history.TaskCompleted, at(1), func(e *history.Event) { e.TaskID = 99 })),
			now: at(1), status: history.StatusRunning, newEvents: "OrchestratorStarted"},
		{name: "the event starts the child", past: concat(ep1, ep2), in: one(goEv), now: at(2), status: history.StatusRunning,
			newEvents: "OrchestratorStarted, EventRaised, SubOrchestrationCreated 3", actions: "StartChild 3 Co:3", finished: 1},
		{name: "the wait times out", past: concat(ep1, ep2), in: one(fired), now: at(61), status: history.StatusFailed,
			newEvents: "OrchestratorStarted, TimerFired 2, ExecutionFailed", failure: "Timeout", finished: 1},
		{name: "the child completes the orchestration", past: concat(ep1, ep2, ep3), in: one(doneC), now: at(3),
			status: history.StatusCompleted, newEvents: "OrchestratorStarted, SubOrchestrationCompleted 3, ExecutionCompleted", output: `"agc"`},
		{name: "events after the end are left out", past: concat(ep1, ep2, ep3), in: []history.Event{doneC, goEv}, now: at(3),
			status: history.StatusCompleted, newEvents: "OrchestratorStarted, SubOrchestrationCompleted 3, ExecutionCompleted", output: `"agc"`},
		{name: "suspended: the event is recorded, not delivered", past: concat(ep1, ep2, []history.Event{ev(history.OrchestratorStarted, at(2), nil), suspended}),
			in: one(goEv), now: at(2), status: history.StatusSuspended, newEvents: "OrchestratorStarted, EventRaised"},
		{name: "resumed: the kept event is delivered",
			past: concat(ep1, ep2, []history.Event{ev(history.OrchestratorStarted, at(2), nil), suspended, goEv}),
			in:   one(resumed), now: at(3), status: history.StatusRunning,
			newEvents: "OrchestratorStarted, ExecutionResumed, SubOrchestrationCreated 3", actions: "StartChild 3 Co:3", finished: 1},
		{name: "terminate recursively", past: concat(ep1, ep2, ep3),
			in:  one(ev(history.ExecutionTerminated, at(4), func(e *history.Event) { e.Reason, e.Recursive = "stop", true })),
			now: at(4), status: history.StatusTerminated, newEvents: "OrchestratorStarted, ExecutionTerminated",
			actions: "TerminateChild 3 o:3", failure: "Terminated"},
		{name: "terminate drops calls made in the same episode", past: concat(ep1, ep2),
			in:  []history.Event{goEv, ev(history.ExecutionTerminated, at(4), func(e *history.Event) { e.Recursive = true })},
			now: at(4), status: history.StatusTerminated, newEvents: "OrchestratorStarted, EventRaised, ExecutionTerminated",
			failure: "Terminated", finished: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := durable.NewExecutor(seqRegistry(t)).Execute("o", c.past, c.in, c.now)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.status {
				t.Fatalf("status %s, want %s (failure %v)", res.Status, c.status, res.Failure)
			}
			if got := describeEvents(res.NewEvents); got != c.newEvents {
				t.Fatalf("new events\n %s\nwant\n %s", got, c.newEvents)
			}
			if got := describeActions(res.Actions); got != c.actions {
				t.Fatalf("actions\n %s\nwant\n %s", got, c.actions)
			}
			if string(res.Output) != c.output {
				t.Fatalf("output %s, want %s", res.Output, c.output)
			}
			if (res.Failure == nil) != (c.failure == "") || (res.Failure != nil && res.Failure.Type != c.failure) {
				t.Fatalf("failure %+v, want type %q", res.Failure, c.failure)
			}
			if len(res.Finished) != c.finished {
				t.Fatalf("finished %+v, want %d", res.Finished, c.finished)
			}
			for _, e := range res.NewEvents {
				if e.Version != history.VersionOf(e.Kind) || e.Timestamp.IsZero() {
					t.Fatalf("event without version or time: %+v", e)
				}
			}
			if res.NewEvents[0].Timestamp != c.now {
				t.Fatalf("OrchestratorStarted at %v, want %v", res.NewEvents[0].Timestamp, c.now)
			}
			// Deterministic: the same arguments give the same result.
			again, err := durable.NewExecutor(seqRegistry(t)).Execute("o", c.past, c.in, c.now)
			if err != nil || !reflect.DeepEqual(res, again) {
				t.Fatalf("a second run differs:\n%+v\n%+v", res, again)
			}
		})
	}
}

func TestRecordedEpisodesReplay(t *testing.T) {
	// The hand-written episodes above are exactly what the executor writes.
	r := seqRegistry(t)
	past := []history.Event(nil)
	for i, step := range []struct {
		in  history.Event
		now time.Time
		ep  []history.Event
	}{{start, at(0), ep1}, {doneA, at(1), ep2}, {goEv, at(2), ep3}} {
		res, err := durable.NewExecutor(r).Execute("o", past, one(step.in), step.now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.NewEvents, step.ep) {
			t.Fatalf("episode %d:\n%+v\nwant\n%+v", i+1, res.NewEvents, step.ep)
		}
		past = append(past, res.NewEvents...)
	}
}

func TestNonDeterminism(t *testing.T) {
	record := func(r *durable.Registry) error {
		return durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
			if err := ctx.CallActivity("A", nil).Await(nil); err != nil {
				return 0, err
			}
			if err := ctx.CallActivity("B", nil).Await(nil); err != nil {
				return 0, err
			}
			return 0, ctx.WaitForExternalEvent("go", 0).Await(nil)
		})
	}
	cases := []struct {
		name string
		code func(ctx *durable.OrchestrationContext, _ struct{}) (int, error)
		want string
	}{
		{"a different activity name", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
			return 0, ctx.CallActivity("Z", nil).Await(nil)
		}, `history recorded activity "A" as task 1, but the code asked for activity "Z"`},
		{"a different kind of call", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
			if err := ctx.CallActivity("A", nil).Await(nil); err != nil {
				return 0, err
			}
			return 0, ctx.CreateTimer(time.Second).Await(nil)
		}, `history recorded activity "B" as task 2, but the code asked for a timer`},
		{"a sub-orchestration instead of an activity", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
			return 0, ctx.CallSubOrchestrator("A", nil).Await(nil)
		}, `history recorded activity "A" as task 1, but the code asked for sub-orchestration "A"`},
		{"a call missing from the code", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
			if err := ctx.CallActivity("A", nil).Await(nil); err != nil {
				return 0, err
			}
			return 0, ctx.WaitForExternalEvent("go", 0).Await(nil)
		}, `history recorded activity "B" as task 2, but the code asked for no call`},
		{"an extra call in the code", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
			ctx.CreateTimer(time.Hour)
			return 0, ctx.CallActivity("A", nil).Await(nil)
		}, `history recorded activity "A" as task 1, but the code asked for a timer`},
	}
	rec := durable.NewRegistry()
	must(t, record(rec))
	must(t, durable.AddActivity(rec, "A", func(context.Context, struct{}) (int, error) { return 1, nil }))
	must(t, durable.AddActivity(rec, "B", func(context.Context, struct{}) (int, error) { return 2, nil }))
	h := durabletest.New(rec)
	must(t, h.Start("O", "o", nil))
	must(t, h.RunUntilIdle())
	past := h.History("o")
	if describeEvents(past) != "OrchestratorStarted, ExecutionStarted, TaskScheduled 1, OrchestratorStarted, TaskCompleted 1, TaskScheduled 2, OrchestratorStarted, TaskCompleted 2" {
		t.Fatalf("recorded %s", describeEvents(past))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := durable.NewRegistry()
			must(t, durable.AddOrchestrator(r, "O", c.code))
			res, err := durable.NewExecutor(r).Execute("o", past, one(goEv), at(9))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != history.StatusFailed || res.Failure.Type != "NonDeterminismError" || !strings.Contains(res.Failure.Message, c.want) {
				t.Fatalf("status %s, failure %+v\nwant a NonDeterminismError with %q", res.Status, res.Failure, c.want)
			}
			if got := describeEvents(res.NewEvents); got != "OrchestratorStarted, ExecutionFailed" || len(res.Actions) != 0 {
				t.Fatalf("new events %s, actions %v", got, res.Actions)
			}
		})
	}
	// The same code replays cleanly.
	res, err := durable.NewExecutor(rec).Execute("o", past, one(goEv), at(9))
	if err != nil || res.Status != history.StatusCompleted {
		t.Fatalf("the recording code: %v %+v", err, res)
	}
	var nd *durable.NonDeterminismError
	if !errors.As(error(&durable.NonDeterminismError{TaskID: 1, Recorded: "a", Requested: "b"}), &nd) || nd.ErrorType() != "NonDeterminismError" {
		t.Fatal("NonDeterminismError is not errors.As-able")
	}
}

func TestExecuteRefusesWhatItCannotRun(t *testing.T) {
	r := seqRegistry(t)
	for _, c := range []struct {
		name     string
		past, in []history.Event
		want     string
	}{
		{"nothing", nil, nil, "no ExecutionStarted"},
		{"no start", nil, one(doneA), "must begin with ExecutionStarted, not TaskCompleted"},
		{"an ended execution", concat(ep1, one(ev(history.ExecutionCompleted, at(1), nil))), one(doneA), "already ended"},
	} {
		if _, err := durable.NewExecutor(r).Execute("o", c.past, c.in, at(5)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestNoGoroutineOutlivesAnEpisode(t *testing.T) {
	defer goleak.VerifyNone(t)
	unwound := 0
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Blocked", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
		defer func() { unwound++ }()
		return 0, ctx.WaitForExternalEvent("never", 0).Await(nil)
	}))
	must(t, durable.AddOrchestrator(r, "Panics", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
		panic("boom")
	}))
	exec := durable.NewExecutor(r)
	for i := 0; i < 100; i++ {
		for _, name := range []string{"Blocked", "Panics"} {
			res, err := exec.Execute("o", nil, one(ev(history.ExecutionStarted, at(0), func(e *history.Event) { e.Name = name })), at(0))
			if err != nil {
				t.Fatal(err)
			}
			if name == "Blocked" && res.Status != history.StatusRunning || name == "Panics" && res.Status != history.StatusFailed {
				t.Fatalf("%s: %s", name, res.Status)
			}
		}
	}
	if unwound != 100 {
		t.Fatalf("the blocked orchestrator's defers ran %d times, want 100 (once per episode)", unwound)
	}
}

func TestContinueAsNewResult(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, n int) (int, error) {
		if err := ctx.WaitForExternalEvent("a", 0).Await(nil); err != nil {
			return 0, err
		}
		ctx.ContinueAsNew(n+1, durable.KeepEvents())
		return 0, nil
	}))
	in := []history.Event{
		ev(history.ExecutionStarted, at(0), func(e *history.Event) { e.Name, e.Input = "O", raw(`1`) }),
		ev(history.EventRaised, at(0), func(e *history.Event) { e.Name, e.Input = "b", raw(`"b1"`) }),
		ev(history.EventRaised, at(0), func(e *history.Event) { e.Name, e.Input = "a", raw(`"a1"`) }),
		ev(history.EventRaised, at(0), func(e *history.Event) { e.Name, e.Input = "a", raw(`"a2"`) }),
		ev(history.TaskCompleted, at(0), func(e *history.Event) { e.TaskID = 5 }),
	}
	res, err := durable.NewExecutor(r).Execute("o", nil, in, at(0))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != history.StatusContinuedAsNew || string(res.ContinueAsNewInput) != "2" {
		t.Fatalf("%s %s", res.Status, res.ContinueAsNewInput)
	}
	var carried []string
	for _, e := range res.Carried {
		carried = append(carried, e.Name+"="+string(e.Input))
	}
	if strings.Join(carried, " ") != `b="b1" a="a2"` {
		t.Fatalf("carried %v", carried)
	}
	last := res.NewEvents[len(res.NewEvents)-1]
	if last.Kind != history.ContinuedAsNew || len(last.Carried) != 2 || string(last.Input) != "2" {
		t.Fatalf("last event %+v", last)
	}
	if got := describeEvents(res.NewEvents); got != "OrchestratorStarted, ExecutionStarted, EventRaised, EventRaised, ContinuedAsNew" {
		t.Fatalf("new events %s", got)
	}
}
