// Package greeter is the orchestration the README shows: a fan-out of retried activities,
// then a wait for an approval event with a timeout.
package greeter

import (
	"context"
	"errors"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/retrypolicy"
)

// Greeter greets every name in parallel, then waits up to a day for the event "Approve".
func Greeter(ctx *durable.OrchestrationContext, names []string) ([]string, error) {
	tasks := make([]durable.Task, len(names))
	for i, n := range names { // in parallel
		tasks[i] = ctx.CallActivity("SayHello", n, durable.WithRetry(retrypolicy.Policy{
			MaxAttempts: 3, FirstInterval: time.Second, BackoffCoefficient: 2}))
	}
	var greetings []string
	if err := durable.WhenAll(tasks...).Await(&greetings); err != nil {
		return nil, err // a *durable.TaskFailedError
	}
	var ok bool // raised with `client raise ID Approve --data true`
	if err := ctx.WaitForExternalEvent("Approve", 24*time.Hour).Await(&ok); err != nil {
		return nil, err // errors.Is(err, durable.ErrTimeout) after a day
	}
	if !ok {
		return nil, errors.New("not approved")
	}
	return greetings, nil
}

// SayHello is an activity: ordinary Go, run at least once.
func SayHello(ctx context.Context, name string) (string, error) { return "Hello, " + name + "!", nil }

// Register adds Greeter and SayHello to r.
func Register(r *durable.Registry) error {
	return errors.Join(
		durable.AddOrchestrator(r, "Greeter", Greeter),
		durable.AddActivity(r, "SayHello", SayHello))
}
