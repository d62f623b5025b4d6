// Package resilience holds small orchestrations that exercise Warren's fault handling end
// to end: an activity retried with backoff, a child whose failure its parent sees, a
// durable timer, parents with long-waiting children to terminate, suspend and resume, and
// orchestrations that fail once and complete when rewound.
// The worker binary hosts them next to the seed scenario; the integration tests drive them.
package resilience

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/retrypolicy"
)

// Register adds this package's orchestrators and activities to r.
func Register(r *durable.Registry) error {
	return errors.Join(
		durable.AddOrchestrator(r, "FlakyPipeline", FlakyPipeline),
		durable.AddActivity(r, "FailTwice", FailTwice),
		durable.AddOrchestrator(r, "ParentOfFailingChild", ParentOfFailingChild),
		durable.AddOrchestrator(r, "AlwaysFails", AlwaysFails),
		durable.AddOrchestrator(r, "Sleeper", Sleeper),
		durable.AddOrchestrator(r, "WaitingParent", WaitingParent),
		durable.AddOrchestrator(r, "WaitForRelease", WaitForRelease),
		durable.AddOrchestrator(r, "Rewindable", Rewindable),
		durable.AddOrchestrator(r, "ParentOfRewindable", ParentOfRewindable),
		durable.AddActivity(r, "Prepare", Prepare),
		durable.AddActivity(r, "FailFirstAttempt", FailFirstAttempt),
		durable.AddActivity(r, "Finish", Finish),
	)
}

// FlakyPipeline calls an activity that fails on its first two attempts, under a retry
// policy whose waits are durable timers.
func FlakyPipeline(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
	var out string
	err := ctx.CallActivity("FailTwice", nil, durable.WithRetry(retrypolicy.Policy{
		MaxAttempts: 5, FirstInterval: 200 * time.Millisecond, BackoffCoefficient: 2,
	})).Await(&out)
	return out, err
}

// FailTwice fails on attempts 1 and 2 and succeeds on the third.
func FailTwice(ctx context.Context, _ struct{}) (string, error) {
	attempt := durable.GetActivityInfo(ctx).Attempt
	if attempt < 3 {
		return "", fmt.Errorf("transient failure on attempt %d", attempt)
	}
	return fmt.Sprintf("succeeded on attempt %d", attempt), nil
}

// ParentOfFailingChild runs a child that fails and reports the child's error as its output.
func ParentOfFailingChild(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
	err := ctx.CallSubOrchestrator("AlwaysFails", nil).Await(nil)
	var failed *durable.TaskFailedError
	if !errors.As(err, &failed) {
		return "", fmt.Errorf("expected the child to fail, got %v", err)
	}
	return "child failed: " + failed.Error(), nil
}

// AlwaysFails fails at once.
func AlwaysFails(ctx *durable.OrchestrationContext, _ struct{}) (struct{}, error) {
	return struct{}{}, errors.New("device exploded")
}

// SleepInput is Sleeper's input.
type SleepInput struct {
	Ms int64 `json:"ms"`
}

// SleepOutput is how long the orchestration's clock says it slept.
type SleepOutput struct {
	SleptMs int64 `json:"sleptMs"`
}

// Sleeper waits on a durable timer.
func Sleeper(ctx *durable.OrchestrationContext, in SleepInput) (SleepOutput, error) {
	start := ctx.CurrentTime()
	if err := ctx.CreateTimer(time.Duration(in.Ms) * time.Millisecond).Await(nil); err != nil {
		return SleepOutput{}, err
	}
	return SleepOutput{SleptMs: ctx.CurrentTime().Sub(start).Milliseconds()}, nil
}

// WaitingInput is WaitingParent's input.
type WaitingInput struct {
	Children int `json:"children"`
}

// WaitingParent starts children that wait for the event "Release", then waits for that
// event itself; terminate it (recursively) or release it.
func WaitingParent(ctx *durable.OrchestrationContext, in WaitingInput) (string, error) {
	tasks := make([]durable.Task, 0, in.Children)
	for i := 0; i < in.Children; i++ {
		tasks = append(tasks, ctx.CallSubOrchestrator("WaitForRelease", nil))
	}
	var word string
	if err := ctx.WaitForExternalEvent("Release", 0).Await(&word); err != nil {
		return "", err
	}
	if err := durable.WhenAll(tasks...).Await(nil); err != nil {
		return "", err
	}
	return word, nil
}

// WaitForRelease waits for the event "Release" with no timeout.
func WaitForRelease(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
	var word string
	err := ctx.WaitForExternalEvent("Release", 0).Await(&word)
	return word, err
}

// Rewindable runs Prepare, FailFirstAttempt and Finish in sequence, without a retry
// policy: the instance fails on FailFirstAttempt's first attempt. Rewound (`client rewind
// ID`), it runs FailFirstAttempt again as attempt 2 and then Finish; Prepare's result is
// kept and it does not run again.
func Rewindable(ctx *durable.OrchestrationContext, name string) (string, error) {
	var prepared, tried, finished string
	if err := ctx.CallActivity("Prepare", name).Await(&prepared); err != nil {
		return "", err
	}
	if err := ctx.CallActivity("FailFirstAttempt", prepared).Await(&tried); err != nil {
		return "", err
	}
	if err := ctx.CallActivity("Finish", tried).Await(&finished); err != nil {
		return "", err
	}
	return finished, nil
}

// ParentOfRewindable runs Prepare and then a Rewindable child, which fails, and the parent
// with it; rewinding the parent rewinds the child.
func ParentOfRewindable(ctx *durable.OrchestrationContext, name string) (string, error) {
	var prepared, child string
	if err := ctx.CallActivity("Prepare", name).Await(&prepared); err != nil {
		return "", err
	}
	if err := ctx.CallSubOrchestrator("Rewindable", name+"'s child").Await(&child); err != nil {
		return "", err
	}
	return prepared + " / " + child, nil
}

// Prepare says it prepared name.
func Prepare(_ context.Context, name string) (string, error) { return "prepared " + name, nil }

// FailFirstAttempt fails on its first attempt and adds its attempt to s on the next.
func FailFirstAttempt(ctx context.Context, s string) (string, error) {
	attempt := durable.GetActivityInfo(ctx).Attempt
	if attempt == 1 {
		return "", errors.New("fails on its first attempt (rewind the instance)")
	}
	return fmt.Sprintf("%s, tried on attempt %d", s, attempt), nil
}

// Finish says it finished s.
func Finish(_ context.Context, s string) (string, error) { return s + ", finished", nil }
