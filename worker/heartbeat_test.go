package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/retrypolicy"
)

// A retried attempt reads the last heartbeat details of the attempt before it through the
// work item, as in the harness (durable's TestNextAttemptReadsTheLastHeartbeat): after an
// error, and after a heartbeat timeout.
func TestNextAttemptReadsTheLastHeartbeatOnAWorker(t *testing.T) {
	r := durable.NewRegistry()
	must(t, errors.Join(
		durable.AddOrchestrator(r, "Resumable", func(ctx *durable.OrchestrationContext, mode string) (int, error) {
			var began int
			err := ctx.CallActivity("Resume", mode, durable.WithHeartbeatTimeout(50*time.Millisecond),
				durable.WithRetry(retrypolicy.Policy{MaxAttempts: 2, FirstInterval: time.Second})).Await(&began)
			return began, err
		}),
		durable.AddActivity(r, "Resume", func(ctx context.Context, mode string) (int, error) {
			from := 0
			ok := durable.LastHeartbeat(ctx, &from)
			if durable.GetActivityInfo(ctx).Attempt == 1 {
				for i := 1; i <= 3; i++ {
					durable.Heartbeat(ctx, i)
				}
				if mode == "silent" {
					<-ctx.Done()
				}
				return 0, errors.New("attempt 1 gives up")
			}
			if !ok {
				return 0, fmt.Errorf("attempt 2 found no heartbeat")
			}
			return from, nil
		}),
	))
	f := newFleet(t, r, nil, nil)
	w, _ := f.worker("w")
	for _, mode := range []string{"error", "silent"} {
		f.start(mode, "Resumable", `"`+mode+`"`)
	}
	f.run(w)
	f.now = f.now.Add(2 * time.Second) // the retry's timer
	for _, mode := range []string{"error", "silent"} {
		inst := f.settle(w, mode)
		if inst.Status != history.StatusCompleted || string(inst.Output) != "3" {
			t.Errorf("%s: %s %s %v, want Completed with 3 (attempt 1's last heartbeat)", mode, inst.Status, inst.Output, inst.Failure)
		}
	}
}
