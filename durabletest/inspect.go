package durabletest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
)

// Snapshot is what a test reads of an instance in one call.
type Snapshot struct {
	Name         string // the orchestrator
	ExecutionID  string
	Status       history.Status
	Output       json.RawMessage  // when Completed
	Failure      *history.Failure // when Failed or Terminated
	CustomStatus json.RawMessage
}

// Snapshot returns the instance's status, output, failure and custom status.
func (h *Harness) Snapshot(instanceID string) (Snapshot, error) {
	inst := h.instances[instanceID]
	if inst == nil {
		return Snapshot{}, fmt.Errorf("no instance %q", instanceID)
	}
	name := inst.started.Name
	if name == "" && len(inst.inbox) > 0 { // its first episode has not run yet
		name = inst.inbox[0].Name
	}
	return Snapshot{Name: name, ExecutionID: inst.executionID, Status: inst.status, Output: inst.output,
		Failure: inst.failure, CustomStatus: inst.customStatus}, nil
}

// NextTimer returns when the earliest pending timer of a running execution is due, and
// false when there is none (a cancelled timer is not pending).
func (h *Harness) NextTimer() (time.Time, bool) {
	var next time.Time
	for _, t := range h.timers {
		inst := h.instances[t.instanceID]
		if inst == nil || inst.executionID != t.executionID || finished(inst.status) {
			continue
		}
		if next.IsZero() || t.at.Before(next) {
			next = t.at
		}
	}
	return next, !next.IsZero()
}

// RunFor runs like Run, firing only the timers due within d from now, each at its own
// time: the clock moves at most d, and stays at the last timer fired (Advance(d) moves it
// by d exactly).
func (h *Harness) RunFor(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("durabletest: RunFor(%s): want a duration of zero or more", d)
	}
	return h.runUntil(h.now.Add(d))
}

// OnActivity replaces activity name, registered or not, with fn for this harness: fn gets
// the activity's input as JSON and its result is encoded to JSON. Its error fails the
// attempt as the activity's own would (a panic too). Call it before Run.
func (h *Harness) OnActivity(name string, fn func(ctx context.Context, input json.RawMessage) (any, error)) error {
	if fn == nil {
		return fmt.Errorf("durabletest: OnActivity(%q): nil function", name)
	}
	if h.mocks == nil {
		h.mocks = durable.NewRegistry()
	}
	return durable.AddActivity(h.mocks, name, fn)
}

// activityRegistry is the registry that runs activity name: a replacement's, else the
// harness's.
func (h *Harness) activityRegistry(name string) *durable.Registry {
	if h.mocks != nil && h.mocks.HasActivity(name) {
		return h.mocks
	}
	return h.reg
}
