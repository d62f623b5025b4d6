package durabletest

import (
	"fmt"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
)

// Rewind takes a Failed instance back to just before its failure and runs it from there,
// as the fleet's rewind does (durable.Executor.Rewind): a new execution keeps every
// completed activity's and child's result, runs the task that failed again (an activity
// as its next attempt; a failed child is rewound in turn) and awaits the timers and
// events still pending. Run the harness afterwards. An instance that is not Failed is an
// error.
func (h *Harness) Rewind(instanceID, reason string) error {
	inst := h.instances[instanceID]
	switch {
	case inst == nil:
		return fmt.Errorf("no instance %q", instanceID)
	case inst.status != history.StatusFailed:
		return fmt.Errorf("instance %q is %s; only a Failed instance can be rewound", instanceID, inst.status)
	}
	return h.rewind(inst, history.Event{Kind: history.ExecutionRewound, Reason: reason, Trace: nextTrace(inst.started.Trace)})
}

// rewind runs the first episode of the execution rewound from inst's failed one.
func (h *Harness) rewind(inst *instance, request history.Event) error {
	h.seq++
	request.Version = history.VersionOf(history.ExecutionRewound)
	request.ExecutionID = fmt.Sprintf("exec-%d", h.seq)
	request.Timestamp = h.now
	res, err := h.exec.Rewind(inst.id, inst.past, request, h.now)
	if err != nil {
		return fmt.Errorf("durabletest: %w", err)
	}
	if h.onEpisode != nil {
		h.onEpisode(inst.id, nil, res)
	}
	*inst = instance{id: inst.id, executionID: request.ExecutionID}
	h.commit(inst, res)
	return nil
}

// rewindChild carries out a RewindChild of the rewound parent inst: a Failed child is
// rewound under the parent's new execution, one that has ended otherwise reports its end
// again, and one still running reports it when it comes (the parent's execution takes the
// ends of those it was rewound from).
func (h *Harness) rewindChild(inst *instance, a durable.Action) {
	parent := &history.ParentRef{InstanceID: inst.id, ExecutionID: inst.executionID, TaskID: a.TaskID, Name: inst.started.Name}
	child := h.instances[a.InstanceID]
	var why string
	switch {
	case child == nil:
		why = "it does not exist"
	case child.started.Parent == nil || child.started.Parent.InstanceID != inst.id || child.started.Parent.TaskID != a.TaskID:
		why = "it is not this call's child any more"
	case child.status == history.StatusFailed:
		err := h.rewind(child, history.Event{Kind: history.ExecutionRewound, Reason: "its parent was rewound",
			Parent: parent, Trace: h.childTrace(inst.started)})
		if err == nil {
			return
		}
		why = err.Error()
	case child.status.Terminal():
		h.notifyParent(child, parent, &durable.Result{Status: child.status, Output: child.output, Failure: child.failure})
		return
	default:
		return
	}
	inst.inbox = append(inst.inbox, history.Event{Version: history.VersionOf(history.SubOrchestrationFailed), Kind: history.SubOrchestrationFailed,
		TaskID: a.TaskID, InstanceID: a.InstanceID, Failure: &history.Failure{Type: durable.RewindRefused,
			Message: fmt.Sprintf("child %q cannot be rewound with its parent: %s", a.InstanceID, why)}})
}
