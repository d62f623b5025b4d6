package worker

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
)

// episodeContext is what turning an episode's decisions into messages needs to know about
// the instance.
type episodeContext struct {
	instanceID  string
	executionID string
	executions  int64 // the execution's number (history.Instance.Executions)
	name        string
	started     history.Event // the execution's ExecutionStarted
	orchTrace   *history.TraceContext
}

// buildOutbox turns the executor's decisions into the messages the episode will send. The
// ids are derived from the instance, execution and task so that a message published again
// after a lost ack carries the same id as the first time.
func buildOutbox(ec episodeContext, res *durable.Result, newSpanID func() string) ([]history.OutboxMessage, error) {
	var out []history.OutboxMessage
	for _, a := range res.Actions {
		m, err := actionMessage(ec, a, newSpanID)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if ec.started.Parent != nil && res.Status.Terminal() {
		m, err := parentNotice(ec, res)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if res.Status == history.StatusContinuedAsNew {
		ms, err := continueAsNewMessages(ec, res, newSpanID)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

func actionMessage(ec episodeContext, a durable.Action, newSpanID func() string) (history.OutboxMessage, error) {
	base := taskBase(ec.instanceID, ec.executionID, a.TaskID)
	switch a.Kind {
	case durable.ScheduleActivity:
		req := history.ActivityRequest{
			InstanceID: ec.instanceID, ExecutionID: ec.executionID, OrchestrationName: ec.name,
			TaskID: a.TaskID, Name: a.Name, Input: a.Input, Attempt: a.Attempt, Trace: ec.orchTrace, Timeout: a.Timeout,
			HeartbeatTimeout: a.HeartbeatTimeout, LastHeartbeat: a.LastHeartbeat,
		}
		body, err := json.Marshal(req)
		return history.OutboxMessage{ID: workItemID(ec.instanceID, ec.executionID, a.TaskID), Kind: history.MessageKindActivity,
			InstanceID: ec.instanceID, Body: body, Trace: ec.orchTrace}, err
	case durable.StartChild:
		exec := newExecutionID()
		ev := history.Event{
			Version: history.VersionOf(history.ExecutionStarted), Kind: history.ExecutionStarted, Name: a.Name,
			Input: a.Input, ExecutionID: exec, Attempt: a.Attempt,
			Parent: &history.ParentRef{InstanceID: ec.instanceID, ExecutionID: ec.executionID, TaskID: a.TaskID, Name: ec.name},
			Trace:  childTrace(ec.orchTrace, newSpanID),
		}
		return controlMessage(base+"/start", a.InstanceID, exec, ev)
	case durable.CreateTimer:
		ev := history.Event{Version: history.VersionOf(history.TimerFired), Kind: history.TimerFired, TaskID: a.TaskID, FireAt: a.FireAt}
		m, err := controlMessage(timerMessageID(ec.instanceID, ec.executionID, a.TaskID), ec.instanceID, ec.executionID, ev)
		m.DueAt = a.FireAt
		return m, err
	case durable.SendEvent:
		ev := history.Event{Version: history.VersionOf(history.EventRaised), Kind: history.EventRaised, Name: a.Name, Input: a.Input}
		return controlMessage(base+"/event", a.InstanceID, "", ev)
	case durable.TerminateChild:
		ev := history.Event{Version: history.VersionOf(history.ExecutionTerminated), Kind: history.ExecutionTerminated, Reason: a.Reason, Recursive: true}
		return controlMessage(base+"/terminate", a.InstanceID, "", ev)
	case durable.RewindChild:
		// The child's ids are fixed here, in the stored outbox, so a copy sent again after
		// a lost ack asks for the same rewind.
		ev := history.Event{Version: history.VersionOf(history.ExecutionRewound), Kind: history.ExecutionRewound, ExecutionID: newExecutionID(),
			Reason: "its parent was rewound",
			Parent: &history.ParentRef{InstanceID: ec.instanceID, ExecutionID: ec.executionID, TaskID: a.TaskID, Name: ec.name},
			Trace:  childTrace(ec.orchTrace, newSpanID)}
		return controlMessage(base+"/rewind", a.InstanceID, "", ev)
	}
	return history.OutboxMessage{}, fmt.Errorf("unknown action kind %v", a.Kind)
}

// parentNotice tells a parent orchestration how its child ended.
func parentNotice(ec episodeContext, res *durable.Result) (history.OutboxMessage, error) {
	p := ec.started.Parent
	ev := history.Event{TaskID: p.TaskID, InstanceID: ec.instanceID}
	switch res.Status {
	case history.StatusCompleted:
		ev.Kind, ev.Result = history.SubOrchestrationCompleted, res.Output
	case history.StatusTerminated:
		ev.Kind = history.SubOrchestrationFailed
		ev.Failure = &history.Failure{Type: "Terminated", Message: fmt.Sprintf("child orchestration %s was terminated", ec.instanceID)}
		if res.Failure != nil {
			ev.Failure.Message += ": " + res.Failure.Message
		}
	default:
		ev.Kind, ev.Failure = history.SubOrchestrationFailed, res.Failure
	}
	id := fmt.Sprintf("%s/%s/done", ec.instanceID, ec.executionID)
	return controlMessage(id, p.InstanceID, p.ExecutionID, ev)
}

// continueAsNewMessages start the next execution: its ExecutionStarted followed by the
// events it keeps, all on the instance's own control queue, in order.
func continueAsNewMessages(ec episodeContext, res *durable.Result, newSpanID func() string) ([]history.OutboxMessage, error) {
	exec := newExecutionID()
	start := ec.started
	start.Input = res.ContinueAsNewInput
	start.ExecutionID = exec
	start.MessageID = ""
	start.Timestamp = time.Time{}
	// The start carries the events it keeps as well as the messages after it: a worker
	// takes them with the start, so that nothing of the new execution — a result of an
	// activity run in place (eager.go) — can come before them. The messages stay for
	// workers of earlier versions, and are copies for the others.
	start.Carried = nil
	for _, ev := range res.Carried {
		ev.MessageID = ""
		if ev.Version == 0 {
			ev.Version = history.VersionOf(ev.Kind)
		}
		start.Carried = append(start.Carried, ev)
	}
	if start.Trace != nil {
		// The next execution gets a span of its own under the same caller.
		tc := *start.Trace
		tc.SpanID = newSpanID()
		start.Trace = &tc
	}
	base := fmt.Sprintf("%s/%s/next", ec.instanceID, ec.executionID)
	m, err := encodeControl(base, history.ControlMessage{InstanceID: ec.instanceID, ExecutionID: exec, Event: start,
		Execution: ec.executions + 1})
	if err != nil {
		return nil, err
	}
	out := []history.OutboxMessage{m}
	for i, ev := range res.Carried {
		ev.MessageID = ""
		m, err := controlMessage(carriedMessageID(base, i), ec.instanceID, exec, ev)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// controlMessage wraps ev for target's control queue; an event without a version gets its
// kind's (history.VersionOf).
func controlMessage(id, target, executionID string, ev history.Event) (history.OutboxMessage, error) {
	return encodeControl(id, history.ControlMessage{InstanceID: target, ExecutionID: executionID, Event: ev})
}

// encodeControl is the outbox message with id that carries cm; an event without a version
// gets its kind's.
func encodeControl(id string, cm history.ControlMessage) (history.OutboxMessage, error) {
	if cm.Event.Version == 0 {
		cm.Event.Version = history.VersionOf(cm.Event.Kind)
	}
	body, err := json.Marshal(cm)
	return history.OutboxMessage{ID: id, Kind: string(cm.Event.Kind), InstanceID: cm.InstanceID, Body: body, Trace: cm.Event.Trace}, err
}

// childTrace is the trace context a child's ExecutionStarted carries: the parent's
// orchestration span as the caller, and a fresh span id for the child's own span.
func childTrace(parent *history.TraceContext, newSpanID func() string) *history.TraceContext {
	tc := &history.TraceContext{SpanID: newSpanID()}
	if parent != nil {
		tc.TraceParent, tc.TraceState = parent.TraceParent, parent.TraceState
	}
	return tc
}

// timerMessageID is the id of the message that fires a durable timer; the timer watch sends
// a lost timer again under the same id.
func timerMessageID(instanceID, executionID string, taskID int64) string {
	return fmt.Sprintf("%s/%s/%d/timer", instanceID, executionID, taskID)
}

// carriedMessageID is the id of the i-th event a continue-as-new carries to the next
// execution, whose start message has the id start.
func carriedMessageID(start string, i int) string { return fmt.Sprintf("%s/%d", start, i) }

// taskBase is the prefix of the ids of the messages a task sends.
func taskBase(instanceID, executionID string, taskID int64) string {
	return fmt.Sprintf("%s/%s/%d", instanceID, executionID, taskID)
}

// workItemID is the id of the work item that runs an activity task.
func workItemID(instanceID, executionID string, taskID int64) string {
	return taskBase(instanceID, executionID, taskID) + "/activity"
}
