package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
)

// Terminating an instance cancels the context of its running activity (on RabbitMQ and
// FerretDB): the worker looks the instance up while the activity runs.
func TestTerminatingAnInstanceCancelsItsRunningActivity(t *testing.T) {
	running := make(chan struct{})
	ended := make(chan error, 1)
	r := durable.NewRegistry()
	must(t, errors.Join(
		durable.AddOrchestrator(r, "Long", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			return "", ctx.CallActivity("Wait", nil).Await(nil)
		}),
		durable.AddActivity(r, "Wait", func(ctx context.Context, _ any) (string, error) {
			close(running)
			select {
			case <-ctx.Done():
				ended <- context.Cause(ctx)
				return "", ctx.Err()
			case <-time.After(30 * time.Second):
				ended <- nil
				return "ran to the end", nil
			}
		}),
	))
	rg := startRig(t, r, func(c *Config) { c.ActivityCheck = 50 * time.Millisecond })
	rg.start("long", "Long", "start-long")
	select {
	case <-running:
	case <-time.After(30 * time.Second):
		t.Fatal("the activity did not start")
	}
	began := time.Now()
	rg.send("long", "terminate-long", history.Event{Version: history.SchemaVersion, Kind: history.ExecutionTerminated,
		Timestamp: time.Now().UTC(), Reason: "no longer wanted"})
	rg.waitStatus("long", history.StatusTerminated)
	select {
	case cause := <-ended:
		if cause == nil || !strings.Contains(cause.Error(), `instance "long" is Terminated`) {
			t.Fatalf("the activity ended with cause %v, want the termination", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the activity still runs 10 s after its instance was terminated")
	}
	t.Logf("cancelled %s after the terminate was sent", time.Since(began).Round(time.Millisecond))
}
