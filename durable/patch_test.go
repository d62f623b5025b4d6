package durable_test

import (
	"context"
	"errors"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
)

// Three versions of an orchestrator that says hello, waits for "go" and says goodbye: v2
// says goodbye in French behind a patch, v3 has dropped the old branch.
var (
	greetV1 = greetWith(func(*durable.OrchestrationContext) string { return "Bye" })
	greetV2 = greetWith(func(ctx *durable.OrchestrationContext) string {
		if ctx.IsPatched("bye-fr") {
			return "Salut"
		}
		return "Bye"
	})
	greetV3 = greetWith(func(ctx *durable.OrchestrationContext) string {
		ctx.DeprecatePatch("bye-fr")
		return "Salut"
	})
	greetNoPatch = greetWith(func(*durable.OrchestrationContext) string { return "Salut" })
)

func greetWith(bye func(*durable.OrchestrationContext) string) orderCode {
	return func(ctx *durable.OrchestrationContext, name string) (string, error) {
		var hello, goodbye string
		if err := ctx.CallActivity("Hello", name).Await(&hello); err != nil {
			return "", err
		}
		if err := ctx.WaitForExternalEvent("go", 0).Await(nil); err != nil {
			return "", err
		}
		err := ctx.CallActivity(bye(ctx), name).Await(&goodbye)
		return hello + " " + goodbye, err
	}
}

func greetRegistry(t *testing.T, code orderCode) *durable.Registry {
	t.Helper()
	r := durable.NewRegistry()
	say := func(word string) func(context.Context, string) (string, error) {
		return func(_ context.Context, name string) (string, error) { return word + " " + name, nil }
	}
	must(t, errors.Join(
		durable.AddOrchestrator(r, "Greet", code),
		durable.AddActivity(r, "Hello", say("Hello")),
		durable.AddActivity(r, "Bye", say("Bye")),
		durable.AddActivity(r, "Salut", say("Salut")),
	))
	return r
}

// runGreet runs code as instance id to the end and returns its output and history.
func runGreet(t *testing.T, code orderCode, id string) (string, []history.Event) {
	t.Helper()
	h := durabletest.New(greetRegistry(t, code))
	must(t, h.Start("Greet", id, "Ann"))
	must(t, h.RunUntilIdle())
	must(t, h.RaiseEvent(id, "go", nil))
	must(t, h.RunUntilIdle())
	var out string
	must(t, h.Output(id, &out))
	return out, h.History(id)
}

func markers(evs []history.Event) []string {
	var ids []string
	for _, ev := range evs {
		if ev.Kind == history.PatchMarker {
			ids = append(ids, ev.Name)
		}
	}
	return ids
}

func TestPatchedCodeReplaysTheOldHistory(t *testing.T) {
	out1, v1 := runGreet(t, greetV1, "old")
	if out1 != "Hello Ann Bye Ann" || markers(v1) != nil {
		t.Fatalf("v1: %q, markers %v", out1, markers(v1))
	}
	// v2 replays v1's history on the old branch.
	if err := durabletest.Replay(greetRegistry(t, greetV2), v1); err != nil {
		t.Fatalf("v2 over v1's history: %v", err)
	}
	// A new instance takes the new branch and records the marker before its call.
	out2, v2 := runGreet(t, greetV2, "new")
	if out2 != "Hello Ann Salut Ann" || len(markers(v2)) != 1 || markers(v2)[0] != "bye-fr" {
		t.Fatalf("v2: %q, markers %v", out2, markers(v2))
	}
	// The marker stands where the code asked, before the call it guards.
	for i, ev := range v2 {
		if ev.Kind == history.PatchMarker && (i+1 == len(v2) || v2[i+1].Kind != history.TaskScheduled || v2[i+1].Name != "Salut") {
			t.Fatalf("the marker is not followed by the call it guards: %s", describeEvents(v2))
		}
	}
	for name, code := range map[string]orderCode{"v2": greetV2, "v3 (DeprecatePatch)": greetV3} {
		if err := durabletest.Replay(greetRegistry(t, code), v2); err != nil {
			t.Errorf("%s over v2's history: %v", name, err)
		}
	}
	// v3 records no marker in a new instance.
	if out3, v3 := runGreet(t, greetV3, "newer"); out3 != "Hello Ann Salut Ann" || markers(v3) != nil {
		t.Fatalf("v3: %q, markers %v", out3, markers(v3))
	}
}

func TestAStrayMarkerIsNonDeterminism(t *testing.T) {
	_, v2 := runGreet(t, greetV2, "new")
	marker := -1
	for i, ev := range v2 {
		if ev.Kind == history.PatchMarker {
			marker = i
		}
	}
	for name, c := range map[string]struct {
		code      orderCode
		requested string
	}{
		"the old code":                          {greetV1, `activity "Bye" as task 3`},
		"the new branch without DeprecatePatch": {greetNoPatch, `activity "Salut" as task 3`},
	} {
		err := durabletest.Replay(greetRegistry(t, c.code), v2)
		var nd *durable.NonDeterminismError
		if !errors.As(err, &nd) || nd.Event != marker || nd.Recorded != `patch marker "bye-fr"` || nd.Requested != c.requested {
			t.Errorf("%s: got %v, want the marker at event %d against %s", name, err, marker, c.requested)
		}
	}
}

// An instance that was waiting under v1 when v2 was deployed takes the new branch once it
// gets there: the point was never passed under v1.
func TestAnInstanceInFlightTakesTheNewBranchAfterTheDeploy(t *testing.T) {
	h := durabletest.New(greetRegistry(t, greetV1))
	must(t, h.Start("Greet", "g", "Ann"))
	must(t, h.RunUntilIdle())
	past := h.History("g")
	goEv := history.Event{Version: history.BaseVersion, Kind: history.EventRaised, Name: "go", Timestamp: at(5)}
	res, err := durable.NewExecutor(greetRegistry(t, greetV2)).Execute("g", past, one(goEv), at(5))
	if err != nil {
		t.Fatal(err)
	}
	if got := describeEvents(res.NewEvents); got != "OrchestratorStarted, EventRaised, PatchMarker, TaskScheduled 3" {
		t.Fatalf("new events %s", got)
	}
	if len(res.Actions) != 1 || res.Actions[0].Name != "Salut" {
		t.Fatalf("actions %+v, want only the new branch's activity (a marker sends nothing)", res.Actions)
	}
	// The history it made replays under v2 and v3.
	all := append(past, res.NewEvents...)
	for name, code := range map[string]orderCode{"v2": greetV2, "v3": greetV3} {
		if err := durabletest.Replay(greetRegistry(t, code), all); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestIsPatchedDecidesOncePerExecution(t *testing.T) {
	var answers []bool
	code := func(ctx *durable.OrchestrationContext, _ string) (string, error) {
		for range 3 {
			answers = append(answers, ctx.IsPatched("p"))
			if err := ctx.CallActivity("Hello", "x").Await(nil); err != nil {
				return "", err
			}
		}
		return "", nil
	}
	h := durabletest.New(greetRegistry(t, code))
	must(t, h.Start("Greet", "g", ""))
	must(t, h.Run())
	wantStatus(t, h, "g", history.StatusCompleted)
	if got := markers(h.History("g")); len(got) != 1 {
		t.Fatalf("markers %v, want one", got)
	}
	for _, a := range answers {
		if !a {
			t.Fatalf("answers %v, want true throughout (replays included)", answers)
		}
	}
	if err := durabletest.Replay(greetRegistry(t, code), h.History("g")); err != nil {
		t.Fatal(err)
	}
}
