package durabletest_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/retrypolicy"
)

// treeRegistry: Tree runs two Branches, each Branch a Leaf; Stuck runs a Leaf and a child
// that waits forever; Missing calls an activity nobody registered, with retries.
func treeRegistry(t *testing.T) *durable.Registry {
	t.Helper()
	r := register(t)
	child := func(name string) func(*durable.OrchestrationContext, string) (string, error) {
		return func(ctx *durable.OrchestrationContext, s string) (string, error) {
			var out string
			err := ctx.CallSubOrchestrator(name, s).Await(&out)
			return out, err
		}
	}
	err := errors.Join(
		durable.AddOrchestrator(r, "Tree", func(ctx *durable.OrchestrationContext, s string) ([]string, error) {
			var out []string
			err := durable.WhenAll(ctx.CallSubOrchestrator("Branch", s), ctx.CallSubOrchestrator("Branch", s)).Await(&out)
			return out, err
		}),
		durable.AddOrchestrator(r, "Branch", child("Echo")),
		durable.AddOrchestrator(r, "Stuck", func(ctx *durable.OrchestrationContext, s string) (string, error) {
			return "", durable.WhenAll(ctx.CallSubOrchestrator("Forever", s), ctx.CallSubOrchestrator("Echo", s)).Await(nil)
		}),
		durable.AddOrchestrator(r, "Forever", func(ctx *durable.OrchestrationContext, _ string) (string, error) {
			return "", ctx.WaitForExternalEvent("never", 0).Await(nil)
		}),
		durable.AddOrchestrator(r, "Missing", func(ctx *durable.OrchestrationContext, _ string) (string, error) {
			policy := retrypolicy.Policy{MaxAttempts: 5, FirstInterval: time.Second}
			return "", ctx.CallActivity("Nobody", nil, durable.WithRetry(policy)).Await(nil)
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPurgeRecursiveDeletesTheWholeTree(t *testing.T) {
	h := durabletest.New(treeRegistry(t))
	for _, id := range []string{"a", "b"} {
		if err := h.Start("Tree", id, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	if n := len(h.Instances()); n != 10 {
		t.Fatalf("%d instances, want 2 trees of 5", n)
	}
	if err := h.Purge("a", true); err != nil {
		t.Fatal(err)
	}
	for _, id := range h.Instances() {
		if id == "a" || strings.HasPrefix(id, "a:") {
			t.Fatalf("%s is left after purging a recursively: %v", id, h.Instances())
		}
	}
	if n := len(h.Instances()); n != 5 {
		t.Fatalf("instances %v, want b's tree untouched", h.Instances())
	}
	// Without recursive only the instance goes; then the id starts over.
	if err := h.Purge("b", false); err != nil {
		t.Fatal(err)
	}
	if h.Status("b") != "" || h.History("b") != nil || len(h.Instances()) != 4 {
		t.Fatalf("b is %q with %d events; instances %v", h.Status("b"), len(h.History("b")), h.Instances())
	}
	if err := h.Start("Echo", "b", "again"); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil || h.Status("b") != history.StatusCompleted {
		t.Fatalf("b started again: %v, %s", err, h.Status("b"))
	}
}

func TestPurgeRefusesWhatHasNotEnded(t *testing.T) {
	h := durabletest.New(treeRegistry(t))
	if err := h.Start("Stuck", "s", "x"); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	if err := h.Purge("s", false); err == nil || !strings.Contains(err.Error(), `instance "s" is Running`) {
		t.Fatalf("purging a running instance: %v", err)
	}
	if err := h.Terminate("s", "", false); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	before := h.Instances()
	err := h.Purge("s", true)
	if err == nil || !strings.Contains(err.Error(), `instance "s:1" is Running`) {
		t.Fatalf("purging a tree with a running child: %v", err)
	}
	if !slices.Equal(h.Instances(), before) {
		t.Fatalf("a refused purge deleted something: %v, was %v", h.Instances(), before)
	}
	if err := h.Purge("nope", false); err == nil || !strings.Contains(err.Error(), `no instance "nope"`) {
		t.Fatalf("purging an unknown instance: %v", err)
	}
}

// An activity nobody registered fails at once, whatever the retry policy: as in the fleet.
func TestUnregisteredActivityIsNotRetried(t *testing.T) {
	h := durabletest.New(treeRegistry(t))
	if err := h.Start("Missing", "m", ""); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	f := h.Failure("m")
	if h.Status("m") != history.StatusFailed || f == nil || f.Cause == nil || f.Cause.Type != durable.ActivityNotRegistered {
		t.Fatalf("status %s, failure %+v", h.Status("m"), f)
	}
	scheduled := 0
	for _, ev := range h.History("m") {
		if ev.Kind == history.TaskScheduled {
			scheduled++
		}
	}
	if scheduled != 1 || h.Now() != durabletest.Start {
		t.Fatalf("%d attempts, clock moved %v: want one attempt and no retry timer", scheduled, h.Now().Sub(durabletest.Start))
	}
}
