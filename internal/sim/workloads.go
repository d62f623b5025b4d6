package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/examples/hello"
	"github.com/warrenhq/warren/examples/provisioning"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/retrypolicy"
)

// expect is what one started instance must end as.
type expect struct {
	id       string
	name     string
	input    any
	status   history.Status
	output   string // the exact JSON output, when not empty
	failType string // a substring of the failure's type or message, for a Failed instance
}

// client is what the simulated user does while the run goes on: raise events,
// suspend, resume and terminate. act is called at every client step; it returns false
// once the client has nothing more to do.
type client func(w *world) bool

// workload is one scenario: the instances it starts and what its user does meanwhile.
type workload struct {
	name    string
	starts  []expect
	clients []client
}

// registry registers every scenario's orchestrators and activities.
func registry() (*durable.Registry, error) {
	r := durable.NewRegistry()
	return r, errors.Join(
		provisioning.Register(r),
		hello.Register(r),
		durable.AddOrchestrator(r, "FanOut", func(ctx *durable.OrchestrationContext, n int) (int, error) {
			tasks := make([]durable.Task, n)
			for i := range tasks {
				tasks[i] = ctx.CallActivity("Square", i+1)
			}
			var sq []int
			if err := durable.WhenAll(tasks...).Await(&sq); err != nil {
				return 0, err
			}
			sum := 0
			for _, v := range sq {
				sum += v
			}
			return sum, nil
		}),
		durable.AddActivity(r, "Square", func(ctx context.Context, n int) (int, error) {
			return n * n, nil
		}),
		durable.AddOrchestrator(r, "Counter", func(ctx *durable.OrchestrationContext, n int) (int, error) {
			if n < 3 {
				var step int
				if err := ctx.CallActivity("Square", n).Await(&step); err != nil {
					return 0, err
				}
				ctx.ContinueAsNew(n+1, durable.KeepEvents())
				return 0, nil
			}
			var last int
			if err := ctx.WaitForExternalEvent("last", 0).Await(&last); err != nil {
				return 0, err
			}
			return n*10 + last, nil
		}),
		durable.AddOrchestrator(r, "NapThenFlaky", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			if err := ctx.CreateTimer(2 * time.Minute).Await(nil); err != nil {
				return "", err
			}
			var s string
			err := ctx.CallActivity("Flaky", "x", durable.WithRetry(retrypolicy.Policy{
				MaxAttempts: 4, FirstInterval: 5 * time.Second, BackoffCoefficient: 2})).Await(&s)
			return s, err
		}),
		durable.AddActivity(r, "Flaky", func(ctx context.Context, s string) (string, error) {
			if a := durable.GetActivityInfo(ctx).Attempt; a < 3 {
				return "", fmt.Errorf("attempt %d fails", a)
			}
			return "ok " + s, nil
		}),
		durable.AddOrchestrator(r, "Idle", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			return "", ctx.WaitForExternalEvent("never", 0).Await(nil)
		}),
		durable.AddOrchestrator(r, "Huge", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			var s string
			err := ctx.CallActivity("Blob", 17<<20).Await(&s)
			return "got " + fmt.Sprint(len(s)), err
		}),
		durable.AddActivity(r, "Blob", func(ctx context.Context, n int) (string, error) {
			return strings.Repeat("x", n), nil
		}),
		durable.AddOrchestrator(r, "Panicky", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			var n int
			if err := ctx.CallActivity("Square", 3).Await(&n); err != nil {
				return "", err
			}
			panic(fmt.Sprintf("user code panics after %d", n))
		}),
		durable.AddOrchestrator(r, "FailsOnce", func(ctx *durable.OrchestrationContext, _ any) (int, error) {
			var a, b, c int
			if err := ctx.CallActivity("Square", 2).Await(&a); err != nil {
				return 0, err
			}
			if err := ctx.CallActivity("FirstAttemptFails", nil).Await(&b); err != nil {
				return 0, err
			}
			err := ctx.CallActivity("Square", 3).Await(&c)
			return a + b + c, err
		}),
		durable.AddActivity(r, "FirstAttemptFails", func(ctx context.Context, _ any) (int, error) {
			if a := durable.GetActivityInfo(ctx).Attempt; a > 1 {
				return a, nil
			}
			return 0, errors.New("the first attempt fails (rewind the instance)")
		}),
		durable.AddOrchestrator(r, "ParentFailsOnce", func(ctx *durable.OrchestrationContext, _ any) (int, error) {
			var n int
			err := ctx.CallSubOrchestrator("FailsOnce", nil).Await(&n)
			return n * 10, err
		}),
		durable.AddOrchestrator(r, "BadChild", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
			err := ctx.CallSubOrchestrator("Idle", nil, durable.WithInstanceID("bad\x00child")).Await(nil)
			if err == nil {
				return "", errors.New("a child with a NUL in its id ran")
			}
			return "refused", nil
		}),
	)
}

// workloads picks this run's scenarios; every run has hello sequences and the seed
// scenario, the rest come by the seed.
func workloads(w *world) []workload {
	var out []workload
	n := 2 + w.rng.IntN(4)
	hellos := workload{name: "hello"}
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		greeting := `"` + strings.TrimSpace(strings.Repeat("Hello, "+name+"! ", 5)) + `"`
		hellos.starts = append(hellos.starts, expect{id: "hello-" + name, name: "HelloSequence", input: name,
			status: history.StatusCompleted, output: greeting})
	}
	out = append(out, hellos)

	devices := 1 + w.rng.IntN(4)
	prov := workload{name: "provisioning", starts: []expect{{id: "prov", name: "ProvisionNewDevices",
		input: provisioning.Input{Devices: devices}, status: history.StatusCompleted,
		output: fmt.Sprintf(`{"provisioned":%d}`, devices)}}}
	for i := 1; i <= devices; i++ {
		prov.clients = append(prov.clients, raiseWhenRunning(fmt.Sprintf("prov:device-%04d", i), "DownloadCompletedAck", true))
	}
	out = append(out, prov)

	if w.rng.IntN(2) == 0 {
		out = append(out, workload{name: "fanout", starts: []expect{{id: "fan", name: "FanOut", input: 6,
			status: history.StatusCompleted, output: "91"}}})
	}
	if w.rng.IntN(2) == 0 {
		out = append(out, workload{name: "continue-as-new", starts: []expect{{id: "counter", name: "Counter", input: 0,
			status: history.StatusCompleted, output: "37"}},
			clients: []client{raiseOnce("counter", "last", 7)}})
	}
	if w.rng.IntN(2) == 0 {
		out = append(out, workload{name: "timers-retries", starts: []expect{{id: "nap", name: "NapThenFlaky",
			status: history.StatusCompleted, output: `"ok x"`}}})
	}
	if w.rng.IntN(2) == 0 {
		out = append(out, workload{name: "suspend-resume-terminate", starts: []expect{{id: "idle", name: "Idle",
			status: history.StatusTerminated}},
			clients: []client{control("idle", "suspend"), control("idle", "resume"), control("idle", "terminate")}})
	}
	if w.rng.IntN(2) == 0 {
		// The failed activity runs again as attempt 2: 4 + 2 + 9; the parent rewinds its child.
		out = append(out, workload{name: "rewind", starts: []expect{
			{id: "fails-once", name: "FailsOnce", status: history.StatusCompleted, output: "15"},
			{id: "parent-fails-once", name: "ParentFailsOnce", status: history.StatusCompleted, output: "150"},
		}, clients: []client{rewindWhenFailed("fails-once"), rewindWhenFailed("parent-fails-once")}})
	}
	if w.rng.IntN(4) == 0 {
		out = append(out, workload{name: "invalid-child", starts: []expect{{id: "parent-of-bad", name: "BadChild",
			status: history.StatusCompleted, output: `"refused"`}}})
	}
	if w.rng.IntN(4) == 0 {
		out = append(out, workload{name: "panic", starts: []expect{{id: "panicky", name: "Panicky",
			status: history.StatusFailed, failType: "Panic"}}})
	}
	if w.rng.IntN(10) == 0 {
		out = append(out, workload{name: "oversized", starts: []expect{{id: "huge", name: "Huge",
			status: history.StatusFailed, failType: "ResultTooLarge"}}})
	}
	return out
}

// raiseWhenRunning raises an event to an instance once it runs (a device acknowledging
// the package it was sent).
func raiseWhenRunning(id, event string, data any) client {
	done := false
	return func(w *world) bool {
		if done {
			return false
		}
		if inst, err := w.store.GetInstance(context.Background(), id); err == nil && inst.Status == history.StatusRunning {
			done = w.raise(id, event, data)
		}
		done = done || w.ended(id) // an answer lost after the event was queued
		return !done
	}
}

// raiseOnce raises an event as soon as the dispatcher has accepted the instance's start.
func raiseOnce(id, event string, data any) client {
	done := false
	return func(w *world) bool {
		if !done && w.accepted[id] {
			done = w.raise(id, event, data) || w.ended(id)
		}
		return !done
	}
}

// control suspends, resumes or terminates an instance once it runs; the actions of one
// instance are taken in the order given.
func control(id, action string) client {
	done := false
	return func(w *world) bool {
		if done {
			return false
		}
		if inst, err := w.store.GetInstance(context.Background(), id); err == nil &&
			(inst.Status == history.StatusRunning || inst.Status == history.StatusSuspended) && w.controlTurn(id, action) {
			if done = w.post("/v1/instances/"+id+"/"+action, `{"reason":"sim"}`); done {
				w.ctrlNext[id]++
			}
		}
		done = done || w.ended(id)
		return !done
	}
}

// rewindWhenFailed rewinds an instance whenever the store shows it Failed (at most five
// times: a fault can fail it again, a DeliveryLimitExceeded say), asking again after 30 s
// while the same execution still shows Failed (an answer lost, a rewind dead-lettered).
func rewindWhenFailed(id string) client {
	tries := 0
	var asked string
	var at time.Time
	return func(w *world) bool {
		w.rewinding[id] = tries < 5
		if tries >= 5 {
			return false
		}
		inst, err := w.store.GetInstance(context.Background(), id)
		if err != nil || inst.Status != history.StatusFailed {
			return err != nil || !inst.Status.Terminal()
		}
		if inst.ExecutionID == asked && w.clock.Sub(at) < 30*time.Second {
			return true
		}
		if w.post("/v1/instances/"+id+"/rewind", `{"reason":"sim"}`) {
			tries++
		}
		asked, at = inst.ExecutionID, w.clock
		return true
	}
}

// ended reports whether the store shows the instance ended: a user stops acting on it
// (an answer that was lost may have hidden that the action went through).
func (w *world) ended(id string) bool {
	inst, err := w.store.GetInstance(context.Background(), id)
	return err == nil && inst.Status.Terminal()
}
