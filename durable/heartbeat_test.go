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

// Heartbeats keep an attempt alive past its heartbeat timeout; an attempt that stops
// sending them is given up after the timeout, with its last details, and retried.
func TestHeartbeatTimeout(t *testing.T) {
	r := durable.NewRegistry()
	must(t, errors.Join(
		durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, act string) (string, error) {
			var out string
			err := ctx.CallActivity(act, nil, durable.WithHeartbeatTimeout(50*time.Millisecond),
				durable.WithRetry(retrypolicy.Policy{MaxAttempts: 2, FirstInterval: time.Second})).Await(&out)
			if err != nil {
				return "failed: " + err.Error(), nil
			}
			return out, nil
		}),
		durable.AddActivity(r, "Steady", func(ctx context.Context, _ any) (string, error) {
			for i := range 15 { // 150 ms, three times the heartbeat timeout
				durable.Heartbeat(ctx, i)
				time.Sleep(10 * time.Millisecond)
			}
			return "done", nil
		}),
		durable.AddActivity(r, "Stuck", func(ctx context.Context, _ any) (string, error) {
			durable.Heartbeat(ctx, map[string]int{"step": 1})
			durable.Heartbeat(ctx, map[string]int{"step": 2})
			<-ctx.Done()
			return "", context.Cause(ctx)
		}),
	))
	durable.Heartbeat(context.Background(), "outside an activity: nothing happens")
	h := durabletest.New(r)
	must(t, h.Start("O", "steady", "Steady"))
	must(t, h.Start("O", "stuck", "Stuck"))
	began := time.Now()
	must(t, h.Run())
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("the run took %s", took)
	}
	wantOutput(t, h, "steady", "done")
	var out string
	must(t, h.Output("stuck", &out))
	if !strings.Contains(out, `HeartbeatTimeout: activity "Stuck" sent no heartbeat for 50ms (WithHeartbeatTimeout); last details: {"step":2}`) {
		t.Fatalf("stuck: %q", out)
	}
	n := 0
	for _, ev := range h.History("stuck") {
		if ev.Kind == history.TaskFailed && ev.Failure.Type == "HeartbeatTimeout" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d attempts lost, want 2 (the retry policy ran)", n)
	}
}

// resumable registers "Resume": an activity that picks up from the last heartbeat of the
// attempt before it. Attempt 1 heartbeats 1..3 and fails (mode "error") or goes silent
// until its heartbeat timeout (mode "silent"); attempt 2 fails before its first heartbeat;
// attempt 3 finishes. The output is where each attempt began.
func resumable(t *testing.T) *durable.Registry {
	r := durable.NewRegistry()
	must(t, errors.Join(
		durable.AddOrchestrator(r, "Resumable", func(ctx *durable.OrchestrationContext, mode string) ([]int, error) {
			var began []int
			err := ctx.CallActivity("Resume", mode, durable.WithHeartbeatTimeout(50*time.Millisecond),
				durable.WithRetry(retrypolicy.Policy{MaxAttempts: 3, FirstInterval: time.Second})).Await(&began)
			return began, err
		}),
		durable.AddActivity(r, "Resume", func(ctx context.Context, mode string) ([]int, error) {
			from := 0
			if ok := durable.LastHeartbeat(ctx, &from); ok != (durable.GetActivityInfo(ctx).Attempt > 1) {
				return nil, errors.New("LastHeartbeat answered for the wrong attempt")
			}
			switch durable.GetActivityInfo(ctx).Attempt {
			case 1:
				for i := from + 1; i <= 3; i++ {
					durable.Heartbeat(ctx, i)
				}
				if mode == "silent" {
					<-ctx.Done()
				}
				return nil, errors.New("attempt 1 gives up")
			case 2:
				return nil, fmt.Errorf("attempt 2 gives up at once (from %d)", from)
			}
			return []int{from}, nil
		}),
	))
	return r
}

// A retried attempt reads the last heartbeat details of the attempts before it: after an
// error and after a heartbeat timeout, and still after an attempt that sent none.
func TestNextAttemptReadsTheLastHeartbeat(t *testing.T) {
	h := durabletest.New(resumable(t))
	for _, mode := range []string{"error", "silent"} {
		must(t, h.Start("Resumable", mode, mode))
	}
	must(t, h.Run())
	for _, mode := range []string{"error", "silent"} {
		var began []int
		must(t, h.Output(mode, &began))
		if len(began) != 1 || began[0] != 3 {
			t.Errorf("%s: the third attempt began at %v, want 3 (attempt 1's last heartbeat)", mode, began)
		}
		var details []string
		for _, ev := range h.History(mode) {
			if ev.Kind == history.TaskFailed {
				details = append(details, string(ev.Failure.Details))
			}
		}
		if strings.Join(details, " ") != "3 " {
			t.Errorf("%s: the failures recorded details %q, want 3 then none", mode, details)
		}
	}
	var from int
	if durable.LastHeartbeat(context.Background(), &from) {
		t.Fatal("LastHeartbeat outside an activity reported details")
	}
}
