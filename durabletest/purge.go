package durabletest

import (
	"fmt"
	"slices"

	"github.com/warrenhq/warren/history"
)

// Purge deletes an ended instance (Completed, Failed or Terminated) and its history, as
// the fleet's purge does; with recursive, its sub-orchestrations too, at any depth. An
// instance that has not ended, or with recursive a sub-orchestration that has not, is an
// error, and then nothing is purged. The id may be started again afterwards.
func (h *Harness) Purge(instanceID string, recursive bool) error {
	inst := h.instances[instanceID]
	if inst == nil {
		return fmt.Errorf("no instance %q", instanceID)
	}
	ids := []string{instanceID}
	if recursive {
		ids = append(ids, h.descendants(instanceID)...)
	}
	for _, id := range ids {
		if s := h.instances[id].status; !s.Terminal() {
			return fmt.Errorf("instance %q is %s; only Completed, Failed or Terminated instances can be purged (terminate it first)", id, s)
		}
	}
	for _, id := range ids {
		delete(h.instances, id)
		h.order = slices.DeleteFunc(h.order, func(o string) bool { return o == id })
		h.timers = slices.DeleteFunc(h.timers, func(t timer) bool { return t.instanceID == id })
	}
	return nil
}

// descendants returns the sub-orchestrations of id, of any of its executions, and theirs,
// parents before children.
func (h *Harness) descendants(id string) []string {
	var out []string
	for _, o := range h.order {
		if p := parentOf(h.instances[o]); p != nil && p.InstanceID == id {
			out = append(out, o)
			out = append(out, h.descendants(o)...)
		}
	}
	return out
}

// parentOf is the parent of an instance, also before its first episode has run.
func parentOf(inst *instance) *history.ParentRef {
	if inst.started.Parent != nil {
		return inst.started.Parent
	}
	for _, ev := range inst.inbox {
		if ev.Kind == history.ExecutionStarted {
			return ev.Parent
		}
	}
	return nil
}
