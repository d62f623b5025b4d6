package durable_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/examples/fanout"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/retrypolicy"
)

// scenario is one behaviour driven through the durabletest harness, which replays each
// instance's whole history on every episode.
type scenario struct {
	name     string
	register func(r *durable.Registry) error
	drive    func(t *testing.T, h *durabletest.Harness)
}

func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := durable.NewRegistry()
			must(t, sc.register(r))
			sc.drive(t, durabletest.New(r))
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantStatus(t *testing.T, h *durabletest.Harness, id string, want history.Status) {
	t.Helper()
	if got := h.Status(id); got != want {
		t.Fatalf("%s is %q, want %q (failure %v)", id, got, want, h.Failure(id))
	}
}

func wantOutput[T comparable](t *testing.T, h *durabletest.Harness, id string, want T) {
	t.Helper()
	var got T
	must(t, h.Output(id, &got))
	if got != want {
		t.Fatalf("%s output = %v, want %v", id, got, want)
	}
}

func count(evs []history.Event, kind history.Kind) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func double(_ context.Context, n int) (int, error) { return 2 * n, nil }

func TestSubOrchestrations(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name: "success",
			register: func(r *durable.Registry) error {
				return errors.Join(
					durable.AddOrchestrator(r, "Parent", func(ctx *durable.OrchestrationContext, n int) (int, error) {
						var out int
						err := ctx.CallSubOrchestrator("Child", n).Await(&out)
						return out, err
					}),
					durable.AddOrchestrator(r, "Child", func(ctx *durable.OrchestrationContext, n int) (int, error) {
						var out int
						err := ctx.CallActivity("Double", n).Await(&out)
						return out, err
					}),
					durable.AddActivity(r, "Double", double))
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("Parent", "p", 21))
				must(t, h.Run())
				wantOutput(t, h, "p", 42)
				wantStatus(t, h, "p:1", history.StatusCompleted) // the default child id
				if p := h.History("p:1")[1].Parent; p == nil || p.InstanceID != "p" || p.TaskID != 1 || p.Name != "Parent" {
					t.Fatalf("child's parent ref = %+v", p)
				}
			},
		},
		{
			name: "failure: the parent sees the child's error and its cause",
			register: func(r *durable.Registry) error {
				return errors.Join(
					durable.AddOrchestrator(r, "Parent", func(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
						err := ctx.CallSubOrchestrator("Child", nil, durable.WithInstanceID("kid")).Await(nil)
						var tf *durable.TaskFailedError
						if !errors.As(err, &tf) {
							return "", fmt.Errorf("want a TaskFailedError, got %v", err)
						}
						// The error unwraps to the child's failure, which unwraps to its cause.
						var failure, cause *history.Failure
						if !errors.As(err, &failure) || !errors.As(failure.Unwrap(), &cause) {
							return "", fmt.Errorf("no failure with a cause in %v", err)
						}
						return fmt.Sprintf("%s|%s|%s|%s|%s|%s", tf.TaskKind, tf.TaskName, tf.ErrorType, failure.Type, cause.Type, cause.Message), nil
					}),
					durable.AddOrchestrator(r, "Child", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
						return 0, ctx.CallActivity("Explode", nil).Await(nil)
					}),
					durable.AddActivity(r, "Explode", func(context.Context, struct{}) (int, error) {
						return 0, errors.New("device exploded")
					}))
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("Parent", "p", nil))
				must(t, h.Run())
				wantStatus(t, h, "kid", history.StatusFailed)
				wantOutput(t, h, "p", "sub-orchestration|Child|TaskFailedError|TaskFailedError|Error|device exploded")
			},
		},
		{
			name: "retry with backoff then success keeps the child's instance id",
			register: func(r *durable.Registry) error {
				flaky := 0
				return errors.Join(
					durable.AddOrchestrator(r, "Parent", func(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
						var out string
						err := ctx.CallSubOrchestrator("Child", nil, durable.WithRetry(retrypolicy.Policy{
							MaxAttempts: 3, FirstInterval: time.Minute, BackoffCoefficient: 2})).Await(&out)
						return out, err
					}),
					durable.AddOrchestrator(r, "Child", func(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
						var out string
						err := ctx.CallActivity("Flaky", nil).Await(&out)
						return out, err
					}),
					durable.AddActivity(r, "Flaky", func(context.Context, struct{}) (string, error) {
						flaky++
						if flaky < 3 {
							return "", fmt.Errorf("flake %d", flaky)
						}
						return "ok", nil
					}))
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("Parent", "p", nil))
				must(t, h.RunUntilIdle())
				wantStatus(t, h, "p:1", history.StatusFailed)
				must(t, h.Advance(time.Minute-time.Second))
				wantStatus(t, h, "p", history.StatusRunning)
				wantStatus(t, h, "p:1", history.StatusFailed) // not retried before its time
				must(t, h.Advance(time.Second))
				wantStatus(t, h, "p:1", history.StatusFailed) // the second attempt failed too
				must(t, h.Advance(2*time.Minute))
				wantOutput(t, h, "p", "ok")
				evs := h.History("p")
				var got []string
				for _, ev := range evs {
					switch ev.Kind {
					case history.SubOrchestrationCreated:
						got = append(got, fmt.Sprintf("child %d %s attempt %d", ev.TaskID, ev.InstanceID, ev.Attempt))
					case history.TimerCreated:
						got = append(got, fmt.Sprintf("timer %d +%v", ev.TaskID, ev.FireAt.Sub(durabletest.Start)))
					}
				}
				want := "child 1 p:1 attempt 1,timer 2 +1m0s,child 3 p:1 attempt 2,timer 4 +3m0s,child 5 p:1 attempt 3"
				if strings.Join(got, ",") != want {
					t.Fatalf("calls:\n %s\nwant\n %s", strings.Join(got, ","), want)
				}
			},
		},
		{
			name: "fan-out of 100 sub-orchestrations",
			register: func(r *durable.Registry) error {
				return errors.Join(
					durable.AddOrchestrator(r, "Parent", func(ctx *durable.OrchestrationContext, n int) (int, error) {
						tasks := make([]durable.Task, n)
						for i := range tasks {
							tasks[i] = ctx.CallSubOrchestrator("Child", i+1)
						}
						var outs []int
						if err := durable.WhenAll(tasks...).Await(&outs); err != nil {
							return 0, err
						}
						sum := 0
						for _, o := range outs {
							sum += o
						}
						return sum, nil
					}),
					durable.AddOrchestrator(r, "Child", func(ctx *durable.OrchestrationContext, n int) (int, error) {
						var out int
						err := ctx.CallActivity("Double", n).Await(&out)
						return out, err
					}),
					durable.AddActivity(r, "Double", double))
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("Parent", "p", 100))
				must(t, h.Run())
				wantOutput(t, h, "p", 100*101)
				if n := count(h.History("p"), history.SubOrchestrationCompleted); n != 100 {
					t.Fatalf("%d children completed, want 100", n)
				}
				wantStatus(t, h, "p:100", history.StatusCompleted)
			},
		},
	})
}

func TestActivities(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:     "fan-out of 1,000 activities",
			register: fanout.Register,
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("FanOutFanIn", "f", fanout.Input{Count: 1000}))
				must(t, h.Run())
				wantOutput(t, h, "f", int64(1000*1001*2001/6))
				evs := h.History("f")
				if count(evs, history.TaskScheduled) != 1000 || count(evs, history.TaskCompleted) != 1000 {
					t.Fatalf("history has %d scheduled and %d completed", count(evs, history.TaskScheduled), count(evs, history.TaskCompleted))
				}
			},
		},
		{
			name: "retry with backoff then success",
			register: func(r *durable.Registry) error {
				return errors.Join(
					durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
						var out string
						err := ctx.CallActivity("FailTwice", nil, durable.WithRetry(retrypolicy.Policy{
							MaxAttempts: 5, FirstInterval: time.Second, BackoffCoefficient: 2})).Await(&out)
						return out, err
					}),
					durable.AddActivity(r, "FailTwice", func(ctx context.Context, _ struct{}) (string, error) {
						info := durable.GetActivityInfo(ctx)
						if info.Attempt < 3 {
							return "", fmt.Errorf("attempt %d failed", info.Attempt)
						}
						return fmt.Sprintf("%s task %d attempt %d", info.InstanceID, info.TaskID, info.Attempt), nil
					}))
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.Run())
				wantOutput(t, h, "o", "o task 5 attempt 3")
				if got := h.Now().Sub(durabletest.Start); got != 3*time.Second {
					t.Fatalf("waited %v in all, want 1s + 2s", got)
				}
			},
		},
		{
			name: "retries stop when Handle says no, and after MaxAttempts",
			register: func(r *durable.Registry) error {
				return errors.Join(
					durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, permanent bool) (int, error) {
						err := ctx.CallActivity("Fail", permanent, durable.WithRetry(retrypolicy.Policy{
							MaxAttempts: 3, FirstInterval: time.Second,
							Handle: func(err error) bool { return !strings.Contains(err.Error(), "permanent") }})).Await(nil)
						var tf *durable.TaskFailedError
						if !errors.As(err, &tf) {
							return 0, fmt.Errorf("want a TaskFailedError, got %v", err)
						}
						return int(tf.TaskID), nil
					}),
					durable.AddActivity(r, "Fail", func(_ context.Context, permanent bool) (int, error) {
						if permanent {
							return 0, errors.New("permanent")
						}
						return 0, errors.New("transient")
					}))
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "permanent", true))
				must(t, h.Start("O", "transient", false))
				must(t, h.Run())
				wantOutput(t, h, "permanent", 1) // no retry
				wantOutput(t, h, "transient", 5) // tasks 1, 3, 5 with timers 2 and 4
			},
		},
		{
			name: "an invalid retry policy fails the call",
			register: func(r *durable.Registry) error {
				return durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
					return 0, ctx.CallActivity("X", nil, durable.WithRetry(retrypolicy.Policy{})).Await(nil)
				})
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.Run())
				wantStatus(t, h, "o", history.StatusFailed)
				if f := h.Failure("o"); !strings.Contains(f.Message, "invalid retry policy") {
					t.Fatalf("failure %v", f)
				}
			},
		},
		{
			name: "a panicking activity fails its task with the panic and stack",
			register: func(r *durable.Registry) error {
				return errors.Join(
					durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
						err := ctx.CallActivity("Panic", nil).Await(nil)
						var tf *durable.TaskFailedError
						if !errors.As(err, &tf) || tf.ErrorType != "Panic" || !strings.Contains(tf.Stack, "scenarios_test.go") {
							return "", fmt.Errorf("unexpected %#v", err)
						}
						return tf.Message, nil
					}),
					durable.AddActivity(r, "Panic", func(context.Context, struct{}) (int, error) { panic("kaboom") }))
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.Run())
				wantOutput(t, h, "o", "kaboom")
			},
		},
	})
}

// eventOrTimer waits for event "go" against a one-hour timer.
func eventOrTimer(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
	ev := ctx.WaitForExternalEvent("go", 0)
	timer := ctx.CreateTimer(time.Hour)
	var i int
	if err := durable.WhenAny(ev, timer).Await(&i); err != nil {
		return "", err
	}
	if i == 1 {
		return "timer", nil
	}
	var s string
	err := ev.Await(&s)
	return "event " + s, err
}

func TestEvents(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:     "WhenAny: the event wins",
			register: func(r *durable.Registry) error { return durable.AddOrchestrator(r, "O", eventOrTimer) },
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.Advance(59*time.Minute))
				must(t, h.RaiseEvent("o", "go", "now"))
				must(t, h.RunUntilIdle())
				wantOutput(t, h, "o", "event now")
			},
		},
		{
			name:     "WhenAny: the timer wins",
			register: func(r *durable.Registry) error { return durable.AddOrchestrator(r, "O", eventOrTimer) },
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.Advance(time.Hour))
				wantOutput(t, h, "o", "timer")
				if err := h.RaiseEvent("o", "go", "late"); err == nil || !strings.Contains(err.Error(), "changes nothing") {
					t.Fatalf("raising an event on an ended instance: %v", err)
				}
				must(t, h.RunUntilIdle())
				wantOutput(t, h, "o", "timer")
			},
		},
		{
			name: "events raised before the wait are delivered in order",
			register: func(r *durable.Registry) error {
				return durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
					if err := ctx.CreateTimer(time.Hour).Await(nil); err != nil {
						return "", err
					}
					var got []string
					for _, name := range []string{"b", "a", "a", "a"} {
						var v string
						if err := ctx.WaitForExternalEvent(name, time.Minute).Await(&v); err != nil {
							return "", err
						}
						got = append(got, v)
					}
					return strings.Join(got, ","), nil
				})
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.RunUntilIdle())
				for _, e := range [][2]string{{"a", "a1"}, {"a", "a2"}, {"b", "b1"}, {"a", "a3"}} {
					must(t, h.RaiseEvent("o", e[0], e[1]))
				}
				must(t, h.RunUntilIdle())
				wantStatus(t, h, "o", history.StatusRunning)
				must(t, h.Advance(time.Hour))
				wantOutput(t, h, "o", "b1,a1,a2,a3")
			},
		},
		{
			name: "a wait times out with ErrTimeout",
			register: func(r *durable.Registry) error {
				return durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) (bool, error) {
					err := ctx.WaitForExternalEvent("never", 10*time.Second).Await(nil)
					return errors.Is(err, durable.ErrTimeout), nil
				})
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.Advance(10*time.Second-1))
				wantStatus(t, h, "o", history.StatusRunning)
				must(t, h.Advance(1))
				wantOutput(t, h, "o", true)
			},
		},
		{
			name: "SendEvent reaches another instance",
			register: func(r *durable.Registry) error {
				return errors.Join(
					durable.AddOrchestrator(r, "Sender", func(ctx *durable.OrchestrationContext, to string) (int, error) {
						return 0, ctx.SendEvent(to, "ping", "hi from "+ctx.InstanceID())
					}),
					durable.AddOrchestrator(r, "Receiver", func(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
						var s string
						err := ctx.WaitForExternalEvent("ping", 0).Await(&s)
						return s, err
					}))
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("Receiver", "r", nil))
				must(t, h.Start("Sender", "s", "r"))
				must(t, h.Run())
				wantStatus(t, h, "s", history.StatusCompleted)
				wantOutput(t, h, "r", "hi from s")
				if n := count(h.History("s"), history.EventSent); n != 1 {
					t.Fatalf("%d EventSent", n)
				}
			},
		},
	})
}

// waitForever waits for event "go" with no timeout.
func waitForever(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
	var s string
	err := ctx.WaitForExternalEvent("go", 0).Await(&s)
	return s, err
}

func TestLifecycle(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:     "suspend keeps events until resume",
			register: func(r *durable.Registry) error { return durable.AddOrchestrator(r, "O", waitForever) },
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.RunUntilIdle())
				must(t, h.Suspend("o", "maintenance"))
				must(t, h.RunUntilIdle())
				wantStatus(t, h, "o", history.StatusSuspended)
				must(t, h.RaiseEvent("o", "go", "x"))
				must(t, h.RunUntilIdle())
				wantStatus(t, h, "o", history.StatusSuspended)
				if n := count(h.History("o"), history.EventRaised); n != 1 {
					t.Fatalf("the event is not recorded while suspended (%d)", n)
				}
				must(t, h.Resume("o", ""))
				must(t, h.RunUntilIdle())
				wantOutput(t, h, "o", "x")
			},
		},
		{
			name: "terminate, recursive and not",
			register: func(r *durable.Registry) error {
				return errors.Join(
					durable.AddOrchestrator(r, "Parent", func(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
						a := ctx.CallSubOrchestrator("Child", nil)
						b := ctx.CallSubOrchestrator("Child", nil)
						return "", durable.WhenAll(a, b).Await(nil)
					}),
					durable.AddOrchestrator(r, "Child", waitForever))
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("Parent", "rec", nil))
				must(t, h.Start("Parent", "flat", nil))
				must(t, h.RunUntilIdle())
				must(t, h.Terminate("rec", "bad batch", true))
				must(t, h.Terminate("flat", "bad batch", false))
				must(t, h.RunUntilIdle())
				for _, c := range []struct {
					id   string
					want history.Status
				}{
					{"rec", history.StatusTerminated}, {"rec:1", history.StatusTerminated}, {"rec:2", history.StatusTerminated},
					{"flat", history.StatusTerminated}, {"flat:1", history.StatusRunning}, {"flat:2", history.StatusRunning},
				} {
					wantStatus(t, h, c.id, c.want)
				}
				if f := h.Failure("rec"); f == nil || f.Message != "bad batch" {
					t.Fatalf("failure %+v", f)
				}
				evs := h.History("rec")
				if last := evs[len(evs)-1]; last.Kind != history.ExecutionTerminated || last.Reason != "bad batch" {
					t.Fatalf("last event %+v", last)
				}
			},
		},
		{
			name: "continue-as-new carries unprocessed events",
			register: func(r *durable.Registry) error {
				return durable.AddOrchestrator(r, "Counter", func(ctx *durable.OrchestrationContext, n int) (int, error) {
					if n == 3 {
						return n, nil
					}
					if err := ctx.WaitForExternalEvent("inc", 0).Await(nil); err != nil {
						return 0, err
					}
					ctx.ContinueAsNew(n+1, durable.KeepEvents())
					return 0, nil
				})
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("Counter", "c", 0))
				for range 3 {
					must(t, h.RaiseEvent("c", "inc", nil))
				}
				must(t, h.RunUntilIdle())
				wantOutput(t, h, "c", 3)
				start := h.History("c")[1]
				if start.Kind != history.ExecutionStarted || string(start.Input) != "3" || start.ExecutionID == "exec-1" {
					t.Fatalf("the last execution starts with %+v", start)
				}
			},
		},
		{
			name: "continue-as-new without keeping events drops them",
			register: func(r *durable.Registry) error {
				return durable.AddOrchestrator(r, "Counter", func(ctx *durable.OrchestrationContext, n int) (int, error) {
					if n == 1 {
						return n, ctx.WaitForExternalEvent("inc", 0).Await(nil)
					}
					if err := ctx.WaitForExternalEvent("inc", 0).Await(nil); err != nil {
						return 0, err
					}
					ctx.ContinueAsNew(n + 1)
					return 0, nil
				})
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("Counter", "c", 0))
				must(t, h.RaiseEvent("c", "inc", nil))
				must(t, h.RaiseEvent("c", "inc", nil))
				must(t, h.RunUntilIdle())
				wantStatus(t, h, "c", history.StatusRunning) // the second "inc" was not kept
			},
		},
		{
			name: "a panicking orchestrator fails with the panic and its stack",
			register: func(r *durable.Registry) error {
				return durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
					if err := ctx.CreateTimer(time.Second).Await(nil); err != nil {
						return 0, err
					}
					var m map[string]int
					//lint:ignore SA5000 the panic is what the test is about
					m["x"] = 1 // nil map
					return 0, nil
				})
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.Run())
				wantStatus(t, h, "o", history.StatusFailed)
				f := h.Failure("o")
				if f.Type != "Panic" || !strings.Contains(f.Message, "nil map") || !strings.Contains(f.Stack, "scenarios_test.go") {
					t.Fatalf("failure %+v", f)
				}
			},
		},
		{
			name:     "an unregistered orchestrator fails",
			register: func(r *durable.Registry) error { return durable.AddOrchestrator(r, "Parent", waitForParentOfGhost) },
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("Parent", "p", nil))
				must(t, h.Run())
				wantOutput(t, h, "p", "OrchestratorNotRegistered")
			},
		},
		{
			name: "custom status, CurrentTime, NewUUID and IsReplaying",
			register: func(r *durable.Registry) error {
				return durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) ([]string, error) {
					var out []string
					for i := range 3 {
						out = append(out, fmt.Sprintf("%v %s %v", ctx.CurrentTime().Sub(durabletest.Start), ctx.NewUUID(), ctx.IsReplaying()))
						must(t, ctx.SetCustomStatus(fmt.Sprint(i, ctx.IsReplaying())))
						if err := ctx.CreateTimer(time.Minute).Await(nil); err != nil {
							return nil, err
						}
					}
					return out, nil
				})
			},
			drive: func(t *testing.T, h *durabletest.Harness) {
				must(t, h.Start("O", "o", nil))
				must(t, h.RunUntilIdle())
				if string(h.CustomStatus("o")) != `"0 false"` {
					t.Fatalf("custom status %s", h.CustomStatus("o"))
				}
				must(t, h.Run())
				var out []string
				must(t, h.Output("o", &out))
				if len(out) != 3 || string(h.CustomStatus("o")) != `"2 true"` {
					t.Fatalf("output %q, custom status %s", out, h.CustomStatus("o"))
				}
				seen := map[string]bool{}
				for i, line := range out {
					f := strings.Fields(line)
					if f[0] != (time.Duration(i)*time.Minute).String() || f[2] != "true" || len(f[1]) != 36 || f[1][14] != '5' || seen[f[1]] {
						t.Fatalf("line %d: %q", i, line)
					}
					seen[f[1]] = true
				}
				// Every line was made again while the last episode replayed its past.
			},
		},
	})
}

func waitForParentOfGhost(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
	err := ctx.CallSubOrchestrator("Ghost", nil).Await(nil)
	var tf *durable.TaskFailedError
	if !errors.As(err, &tf) {
		return "", fmt.Errorf("want a TaskFailedError, got %v", err)
	}
	return tf.ErrorType, nil
}

func TestFinishedWaitsAreReportedOnce(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ struct{}) (int, error) {
		if err := ctx.CreateTimer(time.Minute).Await(nil); err != nil {
			return 0, err
		}
		_ = ctx.WaitForExternalEvent("e", time.Hour).Await(nil)
		return 0, ctx.WaitForExternalEvent("f", time.Hour).Await(nil)
	}))
	h := durabletest.New(r)
	var finished []durable.FinishedWait
	h.OnEpisode(func(_ string, _ []history.Event, res *durable.Result) { finished = append(finished, res.Finished...) })
	must(t, h.Start("O", "o", nil))
	must(t, h.Advance(time.Minute))
	must(t, h.RaiseEvent("o", "e", 1))
	must(t, h.Advance(time.Minute))
	must(t, h.Advance(time.Hour))
	wantStatus(t, h, "o", history.StatusFailed)
	var got []string
	for _, f := range finished {
		got = append(got, fmt.Sprintf("%s %s #%d %v..%v %v", f.Kind, f.Name, f.TaskID,
			f.Start.Sub(durabletest.Start), f.End.Sub(durabletest.Start), f.TimedOut))
	}
	want := "timer  #1 0s..1m0s false|event e #2 1m0s..1m0s false|event f #3 1m0s..1h1m0s true"
	if strings.Join(got, "|") != want {
		t.Fatalf("finished:\n %s\nwant\n %s", strings.Join(got, "|"), want)
	}
}

func TestRegistry(t *testing.T) {
	r := durable.NewRegistry()
	noop := func(context.Context, int) (int, error) { return 0, nil }
	must(t, durable.AddActivity(r, "B", noop))
	must(t, durable.AddActivity(r, "A", noop))
	must(t, durable.AddOrchestrator(r, "Z", waitForever))
	if err := durable.AddActivity(r, "A", noop); err == nil || !strings.Contains(err.Error(), `activity "A" is already registered`) {
		t.Fatalf("duplicate activity: %v", err)
	}
	if err := durable.AddOrchestrator(r, "Z", waitForever); err == nil {
		t.Fatal("duplicate orchestrator accepted")
	}
	if err := durable.AddActivity(r, " ", noop); err == nil {
		t.Fatal("empty name accepted")
	}
	if got := strings.Join(r.Activities(), ","); got != "A,B" {
		t.Fatalf("Activities() = %s", got)
	}
	if got := strings.Join(r.Orchestrators(), ","); got != "Z" {
		t.Fatalf("Orchestrators() = %s", got)
	}

	must(t, durable.AddActivity(r, "Info", func(ctx context.Context, in string) (durable.ActivityInfo, error) {
		return durable.GetActivityInfo(ctx), nil
	}))
	out, f := r.RunActivity(context.Background(), durable.ActivityInfo{InstanceID: "i", ExecutionID: "e", TaskID: 7, Attempt: 2}, "Info", json.RawMessage(`"x"`))
	var info durable.ActivityInfo
	if f != nil || json.Unmarshal(out, &info) != nil || info != (durable.ActivityInfo{InstanceID: "i", ExecutionID: "e", Name: "Info", TaskID: 7, Attempt: 2}) {
		t.Fatalf("RunActivity: %s %v", out, f)
	}
	if _, f := r.RunActivity(context.Background(), durable.ActivityInfo{}, "Nope", nil); f == nil || f.Type != "ActivityNotRegistered" || !strings.Contains(f.Message, "registered: A, B, Info") {
		t.Fatalf("unknown activity: %+v", f)
	}
	if _, f := r.RunActivity(context.Background(), durable.ActivityInfo{}, "A", json.RawMessage(`"not a number"`)); f == nil || !strings.Contains(f.Message, `decoding the input of activity "A"`) {
		t.Fatalf("bad input: %+v", f)
	}
}
