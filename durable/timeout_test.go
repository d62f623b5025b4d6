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
	"github.com/warrenhq/warren/retrypolicy"
)

// An attempt that runs past WithTimeout fails with a Timeout the retry policy sees, whether
// the activity honours its context or not.
func TestWithTimeoutFailsASlowAttempt(t *testing.T) {
	r := durable.NewRegistry()
	var attempts []int
	must(t, errors.Join(
		durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, act string) (string, error) {
			var out string
			err := ctx.CallActivity(act, nil, durable.WithTimeout(50*time.Millisecond),
				durable.WithRetry(retrypolicy.Policy{MaxAttempts: 2, FirstInterval: time.Second})).Await(&out)
			if errors.Is(err, durable.ErrTimeout) {
				return "timed out: " + err.Error(), nil
			}
			return out, err
		}),
		durable.AddActivity(r, "Polite", func(ctx context.Context, _ any) (string, error) {
			attempts = append(attempts, durable.GetActivityInfo(ctx).Attempt)
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(10 * time.Second):
				return "late", nil
			}
		}),
		durable.AddActivity(r, "Deaf", func(context.Context, any) (string, error) {
			time.Sleep(300 * time.Millisecond) // ignores its context
			return "late", nil
		}),
		durable.AddActivity(r, "Quick", func(context.Context, any) (string, error) { return "quick", nil }),
	))
	h := durabletest.New(r)
	began := time.Now()
	for _, act := range []string{"Polite", "Deaf", "Quick"} {
		must(t, h.Start("O", act, act))
	}
	must(t, h.Run())
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("the run took %s: the timeouts did not cut the attempts short", took)
	}
	for _, act := range []string{"Polite", "Deaf"} {
		var out string
		must(t, h.Output(act, &out))
		if !strings.HasPrefix(out, "timed out: ") || !strings.Contains(out, fmt.Sprintf("activity %q did not finish within 50ms", act)) {
			t.Fatalf("%s: %q", act, out)
		}
		n := 0
		for _, ev := range h.History(act) {
			if ev.Kind == history.TaskFailed && ev.Failure.Type == "Timeout" {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%s: %d timed-out attempts, want 2 (the retry policy ran)", act, n)
		}
	}
	if fmt.Sprint(attempts) != "[1 2]" {
		t.Fatalf("Polite saw attempts %v", attempts)
	}
	wantOutput(t, h, "Quick", "quick")
}

func TestWithTimeoutRefusesWhatItCannotBound(t *testing.T) {
	r := durable.NewRegistry()
	must(t, errors.Join(
		durable.AddOrchestrator(r, "Child", func(*durable.OrchestrationContext, string) (string, error) { return "", nil }),
		durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ string) (string, error) {
			e1 := ctx.CallSubOrchestrator("Child", nil, durable.WithTimeout(time.Second)).Await(nil)
			e2 := ctx.CallActivity("A", nil, durable.WithTimeout(-time.Second)).Await(nil)
			return fmt.Sprintf("%v | %v", e1, e2), nil
		}),
	))
	h := durabletest.New(r)
	must(t, h.Start("O", "o", ""))
	must(t, h.Run())
	wantOutput(t, h, "o", `calling sub-orchestrator "Child": WithTimeout and WithHeartbeatTimeout apply to activities only | calling "A": WithTimeout(-1s): want a positive duration`)
}
