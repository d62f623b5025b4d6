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

type orderCode func(ctx *durable.OrchestrationContext, item string) (string, error)

// order reserves an item, waits an hour, waits for "paid", then ships it through a child
// orchestration.
func order(ctx *durable.OrchestrationContext, item string) (string, error) {
	var id string
	if err := ctx.CallActivity("Reserve", item).Await(&id); err != nil {
		return "", err
	}
	if err := ctx.CreateTimer(time.Hour).Await(nil); err != nil {
		return "", err
	}
	if err := ctx.WaitForExternalEvent("paid", 0).Await(nil); err != nil {
		return "", err
	}
	var label string
	err := ctx.CallSubOrchestrator("Ship", id).Await(&label)
	return label, err
}

func orderRegistry(t *testing.T, code orderCode) *durable.Registry {
	t.Helper()
	r := durable.NewRegistry()
	must(t, errors.Join(
		durable.AddOrchestrator(r, "Order", code),
		durable.AddOrchestrator(r, "Ship", func(ctx *durable.OrchestrationContext, id string) (string, error) {
			var label string
			err := ctx.CallActivity("Label", id).Await(&label)
			return label, err
		}),
		durable.AddActivity(r, "Reserve", func(_ context.Context, item string) (string, error) { return "r-" + item, nil }),
		durable.AddActivity(r, "Label", func(_ context.Context, id string) (string, error) { return "label " + id, nil }),
	))
	return r
}

// recordOrders runs Order in the harness: "done" to the end, "waiting" until it waits for
// "paid". It returns both histories.
func recordOrders(t *testing.T) (done, waiting []history.Event) {
	t.Helper()
	h := durabletest.New(orderRegistry(t, order))
	must(t, h.Start("Order", "done", "book"))
	must(t, h.Start("Order", "waiting", "pen"))
	must(t, h.Advance(time.Hour))
	must(t, h.RaiseEvent("done", "paid", true))
	must(t, h.RunUntilIdle())
	wantStatus(t, h, "done", history.StatusCompleted)
	wantStatus(t, h, "waiting", history.StatusRunning)
	return h.History("done"), h.History("waiting")
}

func TestReplayAcceptsTheRecordingCode(t *testing.T) {
	done, waiting := recordOrders(t)
	r := orderRegistry(t, order)
	for name, evs := range map[string][]history.Event{"completed": done, "running": waiting} {
		if err := durabletest.Replay(r, evs); err != nil {
			t.Errorf("%s history: %v", name, err)
		}
	}
}

func TestReplayNamesWhereTheCodeDeparts(t *testing.T) {
	done, waiting := recordOrders(t)
	cases := []struct {
		name               string
		code               orderCode
		history            []history.Event
		at                 history.Kind // the recorded event where they part ("" past the last)
		recorded, requests string
	}{
		{"another activity", func(ctx *durable.OrchestrationContext, item string) (string, error) {
			return "", ctx.CallActivity("Hold", item).Await(nil)
		}, done, history.TaskScheduled, `activity "Reserve" as task 1`, `activity "Hold"`},
		{"an extra call in a recorded episode", func(ctx *durable.OrchestrationContext, item string) (string, error) {
			if err := ctx.CallActivity("Reserve", item).Await(nil); err != nil {
				return "", err
			}
			timer := ctx.CreateTimer(time.Hour)
			_ = ctx.SendEvent("audit", "reserved", item)
			return "", timer.Await(nil)
		}, done, history.OrchestratorStarted, "no further call in that episode", `event "reserved" sent to "audit" as task 3`},
		{"a call missing from the code", func(ctx *durable.OrchestrationContext, item string) (string, error) {
			return "early", ctx.CallActivity("Reserve", item).Await(nil)
		}, done, history.TimerCreated, "a timer as task 2", "no call"},
		{"an end where history goes on", func(ctx *durable.OrchestrationContext, item string) (string, error) {
			if err := ctx.CallActivity("Reserve", item).Await(nil); err != nil {
				return "", err
			}
			return "early", ctx.CreateTimer(time.Hour).Await(nil)
		}, done, history.OrchestratorStarted, "another episode", "completion"},
		{"a failure where history completed", func(ctx *durable.OrchestrationContext, item string) (string, error) {
			if _, err := order(ctx, item); err != nil {
				return "", err
			}
			return "", errors.New("no label")
		}, done, history.ExecutionCompleted, "completion", "failure (Error: no label)"},
		{"an end where a running history goes on", func(ctx *durable.OrchestrationContext, item string) (string, error) {
			if err := ctx.CallActivity("Reserve", item).Await(nil); err != nil {
				return "", err
			}
			return "", ctx.CreateTimer(time.Hour).Await(nil)
		}, waiting, "", "the execution still running", "completion"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := durabletest.Replay(orderRegistry(t, c.code), c.history)
			var nd *durable.NonDeterminismError
			if !errors.As(err, &nd) {
				t.Fatalf("got %v, want a *durable.NonDeterminismError", err)
			}
			at := history.Kind("")
			if nd.Event >= 0 && nd.Event < len(c.history) {
				at = c.history[nd.Event].Kind
			}
			if at != c.at || nd.Event < 0 || nd.Event > len(c.history) {
				t.Fatalf("event %d, want one of kind %s: %v", nd.Event, c.at, err)
			}
			got := nd.Recorded
			if nd.TaskID != 0 {
				got += " as task " + fmt.Sprint(nd.TaskID)
			}
			if got != c.recorded || nd.Requested != c.requests {
				t.Fatalf("recorded %q, requested %q; want %q, %q", got, nd.Requested, c.recorded, c.requests)
			}
			if !strings.Contains(err.Error(), "at history event "+fmt.Sprint(nd.Event+1)+":") {
				t.Fatalf("the message does not name the event: %v", err)
			}
		})
	}
}

func TestReplayOfATerminatedHistory(t *testing.T) {
	h := durabletest.New(orderRegistry(t, order))
	must(t, h.Start("Order", "t", "cup"))
	must(t, h.RunUntilIdle())
	must(t, h.Terminate("t", "cancelled", false))
	must(t, h.RunUntilIdle())
	wantStatus(t, h, "t", history.StatusTerminated)
	if err := durabletest.Replay(orderRegistry(t, order), h.History("t")); err != nil {
		t.Fatal(err)
	}
}

func TestReplayRefusesWhatItCannotRun(t *testing.T) {
	done, _ := recordOrders(t)
	cases := map[string]struct {
		reg  *durable.Registry
		evs  []history.Event
		want string
	}{
		"empty":          {orderRegistry(t, order), nil, "the history is empty"},
		"no start":       {orderRegistry(t, order), done[2:], "history must begin with ExecutionStarted"},
		"not registered": {durable.NewRegistry(), done, `orchestrator "Order" is not registered`},
	}
	for name, c := range cases {
		err := durabletest.Replay(c.reg, c.evs)
		var nd *durable.NonDeterminismError
		if err == nil || errors.As(err, &nd) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}
