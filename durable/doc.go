// Package durable is Warren's SDK: the [Registry] of orchestrators and activities, the
// [OrchestrationContext] orchestrators act through, [Task] with [WhenAll] and [WhenAny], and
// the replay [Executor] that the worker runs. It knows nothing of RabbitMQ, MongoDB or
// OpenTelemetry.
//
// An orchestrator is deterministic Go code that is replayed from its history; an activity is
// ordinary Go code, run at least once:
//
//	func Greet(ctx *durable.OrchestrationContext, name string) (string, error) {
//		var greeting string
//		err := ctx.CallActivity("SayHello", name).Await(&greeting)
//		return greeting, err
//	}
//
//	r := durable.NewRegistry()
//	durable.AddOrchestrator(r, "Greet", Greet)
//	durable.AddActivity(r, "SayHello", func(ctx context.Context, name string) (string, error) {
//		return "Hello, " + name, nil
//	})
//
// [Executor.Execute] turns an instance's history plus its new events into new history
// events and actions, with no I/O; [Executor.Rewind] builds, as purely, the execution that
// runs a failed one again from just before its failure. Package [github.com/warrenhq/warren/durabletest] drives
// it with a virtual clock, so orchestrations can be tested in milliseconds without servers.
//
// Task ids are sequential per execution, from 1, in the order of the calls (a retry's
// timer and each new attempt take the next ids when the failure is applied). Replay checks
// every recorded call against the code: see [NonDeterminismError].
package durable
