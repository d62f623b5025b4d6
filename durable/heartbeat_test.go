package durable_test

import (
	"context"
	"errors"
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
