package ui

import (
	"encoding/json"
	"time"

	"github.com/warrenhq/warren/history"
)

// step is one row of an instance's timeline: an activity, timer or sub-orchestration from
// its scheduling to its outcome, an event, or a change of the execution's state.
type step struct {
	Kind    string // Activity, Timer, Sub-orchestration, Event raised, Event sent, Patch, Execution, or the event kind
	Name    string
	TaskID  int64
	Attempt int
	Start   time.Time
	End     time.Time // zero while it has not ended
	Outcome string    // Completed, Failed, Fired, Waiting, Running, Started, …
	Failure *history.Failure
	Input   json.RawMessage
	Result  json.RawMessage
	Child   string // the sub-orchestration, or the target of a sent event
	FireAt  time.Time
	Reason  string
}

// Duration is how long the step took, or 0 while it runs.
func (s step) Duration() time.Duration {
	if s.End.IsZero() || s.Start.IsZero() {
		return 0
	}
	return s.End.Sub(s.Start)
}

// Ended reports whether the step has an outcome.
func (s step) Ended() bool { return !s.End.IsZero() }

// timeline folds an execution's events into steps, in the order each began: a scheduling
// event and its outcome (matched by task id) make one step. Kinds it does not know (a
// newer SDK's markers) appear as steps of their own, so nothing in the history is hidden.
// OrchestratorStarted, which marks each episode, is left out.
func timeline(events []history.Event) []step {
	var steps []step
	open := map[taskKey]int{} // scheduled, not yet ended → index in steps
	begin := func(k taskKey, s step) {
		open[k] = len(steps)
		steps = append(steps, s)
	}
	end := func(k taskKey, e history.Event, outcome string) {
		i, ok := open[k]
		if !ok { // an outcome without its scheduling: shown on its own
			steps = append(steps, step{Kind: string(e.Kind), Name: e.Name, TaskID: e.TaskID, Start: e.Timestamp,
				End: e.Timestamp, Outcome: outcome, Failure: e.Failure, Result: e.Result})
			return
		}
		delete(open, k)
		s := &steps[i]
		s.End, s.Outcome, s.Failure, s.Result = e.Timestamp, outcome, e.Failure, e.Result
	}
	for _, e := range events {
		switch e.Kind {
		case history.OrchestratorStarted:
		case history.ExecutionStarted:
			steps = append(steps, step{Kind: "Execution", Name: e.Name, Start: e.Timestamp, Outcome: "Started",
				Input: e.Input, FireAt: e.FireAt})
		case history.TaskScheduled:
			begin(taskKey{"activity", e.TaskID}, step{Kind: "Activity", Name: e.Name, TaskID: e.TaskID, Attempt: e.Attempt,
				Start: e.Timestamp, Outcome: "Running", Input: e.Input})
		case history.TaskCompleted:
			end(taskKey{"activity", e.TaskID}, e, "Completed")
		case history.TaskFailed:
			end(taskKey{"activity", e.TaskID}, e, "Failed")
		case history.SubOrchestrationCreated:
			begin(taskKey{"child", e.TaskID}, step{Kind: "Sub-orchestration", Name: e.Name, TaskID: e.TaskID,
				Attempt: e.Attempt, Start: e.Timestamp, Outcome: "Running", Input: e.Input, Child: e.InstanceID})
		case history.SubOrchestrationCompleted:
			end(taskKey{"child", e.TaskID}, e, "Completed")
		case history.SubOrchestrationFailed:
			end(taskKey{"child", e.TaskID}, e, "Failed")
		case history.TimerCreated:
			begin(taskKey{"timer", e.TaskID}, step{Kind: "Timer", TaskID: e.TaskID, Start: e.Timestamp,
				Outcome: "Waiting", FireAt: e.FireAt})
		case history.TimerFired:
			end(taskKey{"timer", e.TaskID}, e, "Fired")
		case history.EventRaised:
			steps = append(steps, step{Kind: "Event raised", Name: e.Name, Start: e.Timestamp, Outcome: "Received", Input: e.Input})
		case history.EventSent:
			steps = append(steps, step{Kind: "Event sent", Name: e.Name, TaskID: e.TaskID, Start: e.Timestamp,
				Outcome: "Sent", Input: e.Input, Child: e.InstanceID})
		case history.ExecutionCompleted:
			steps = append(steps, step{Kind: "Execution", Start: e.Timestamp, Outcome: "Completed", Result: e.Result})
		case history.ExecutionFailed:
			steps = append(steps, step{Kind: "Execution", Start: e.Timestamp, Outcome: "Failed", Failure: e.Failure})
		case history.ExecutionTerminated:
			outcome := "Terminated"
			if e.Recursive {
				outcome = "Terminated with its children"
			}
			steps = append(steps, step{Kind: "Execution", Start: e.Timestamp, Outcome: outcome, Reason: e.Reason, Result: e.Result})
		case history.ExecutionSuspended:
			steps = append(steps, step{Kind: "Execution", Start: e.Timestamp, Outcome: "Suspended", Reason: e.Reason})
		case history.ExecutionResumed:
			steps = append(steps, step{Kind: "Execution", Start: e.Timestamp, Outcome: "Resumed", Reason: e.Reason})
		case history.PatchMarker:
			steps = append(steps, step{Kind: "Patch", Name: e.Name, Start: e.Timestamp, Outcome: "Took the new branch"})
		case history.ContinuedAsNew:
			steps = append(steps, step{Kind: "Execution", Start: e.Timestamp, Outcome: "Continued as new", Input: e.Input})
		default:
			steps = append(steps, step{Kind: string(e.Kind), Name: e.Name, TaskID: e.TaskID, Start: e.Timestamp,
				Outcome: "Recorded", Input: e.Input, Result: e.Result, Failure: e.Failure, Reason: e.Reason})
		}
	}
	return steps
}

// taskKey tells apart the task ids of activities, children and timers, which a history
// numbers from one sequence but matches by kind.
type taskKey struct {
	kind string
	id   int64
}

// causes is a failure followed by its causes, outermost first.
func causes(f *history.Failure) []*history.Failure {
	var out []*history.Failure
	for ; f != nil && len(out) < 32; f = f.Cause {
		out = append(out, f)
	}
	return out
}
