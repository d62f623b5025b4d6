package durable

import (
	"fmt"
	"slices"
	"time"

	"github.com/warrenhq/warren/history"
)

// Rewind takes a failed execution back to just before its failure, as a new execution of
// the instance. failed is the failed execution's whole history; request is the
// ExecutionRewound that asks for it (ExecutionID: the new execution's id; Parent, when
// set, the new parent of a child rewound with its parent; Trace, when set, the new
// orchestration span; Reason).
//
// The new history is the failed one without the failures its last episode applied (every
// TaskFailed and SubOrchestrationFailed there) and without its ExecutionFailed, followed
// by the ExecutionRewound: so every completed activity and child keeps its result, and
// what failed is open again. Its ExecutionStarted is the failed execution's with the new
// execution id, parent and span, and RewoundFrom naming the failed execution. Rewind then
// runs the orchestrator over it as one episode at now, and returns that episode as
// Execute would, except that NewEvents hold the new execution's whole history so far, and
// that Actions begin with the calls still open, sent again: each activity (a failed one
// as its next attempt, with the last heartbeat details of the failure), each timer, and a
// RewindChild for each child. An orchestration whose failure came from its own code, not
// from a task, fails again the same way unless the code has changed.
//
// Like Execute it does no I/O. It returns an error for a history that has not failed.
func (e *Executor) Rewind(instanceID string, failed []history.Event, request history.Event, now time.Time) (*Result, error) {
	past, refailed, err := rewoundHistory(failed, request)
	if err != nil {
		return nil, fmt.Errorf("instance %q: %w", instanceID, err)
	}
	ep := newEpisode(e.reg, instanceID, now)
	defer ep.close()
	if err := ep.run(past, nil); err != nil {
		return nil, err
	}
	res := ep.res
	res.NewEvents = append(past, res.NewEvents...)
	if res.Status == history.StatusRunning || res.Status == history.StatusSuspended {
		res.Actions = append(ep.reopened(refailed), res.Actions...)
	}
	return res, nil
}

// refailure is a task failure a rewind left out of history: the task runs again.
type refailure struct {
	failure *history.Failure
	attempt int // an activity's next attempt, as the rewound history records it
}

// rewoundHistory builds the history a rewound execution begins with, and returns the
// failures it left out by task id.
func rewoundHistory(failed []history.Event, request history.Event) ([]history.Event, map[int64]*refailure, error) {
	last := -1  // the last episode's OrchestratorStarted
	end := -1   // the ExecutionFailed
	start := -1 // the ExecutionStarted
	for i, ev := range failed {
		switch ev.Kind {
		case history.ExecutionStarted:
			if start < 0 {
				start = i
			}
		case history.OrchestratorStarted:
			last = i
		case history.ExecutionFailed:
			end = i
		case history.ExecutionCompleted, history.ExecutionTerminated, history.ContinuedAsNew:
			return nil, nil, fmt.Errorf("only a failed execution can be rewound (its history ends with %s)", ev.Kind)
		}
	}
	if end < 0 || start < 0 {
		return nil, nil, fmt.Errorf("only a failed execution can be rewound (its history holds no %s)", history.ExecutionFailed)
	}
	refailed := map[int64]*refailure{}
	out := make([]history.Event, 0, len(failed)+1)
	for i, ev := range failed {
		switch {
		case i == start:
			ev = rewoundStart(ev, request)
		case i == end:
			continue
		case i > last && (ev.Kind == history.TaskFailed || ev.Kind == history.SubOrchestrationFailed):
			refailed[ev.TaskID] = &refailure{failure: ev.Failure}
			continue
		}
		out = append(out, ev)
	}
	// A failed activity runs again as its next attempt; the history says so.
	for i := range out {
		if ev := &out[i]; ev.Kind == history.TaskScheduled {
			if r, ok := refailed[ev.TaskID]; ok {
				ev.Attempt++
				r.attempt = ev.Attempt
			}
		}
	}
	marker := history.Event{Version: history.VersionOf(history.ExecutionRewound), Kind: history.ExecutionRewound, Timestamp: request.Timestamp,
		ExecutionID: request.ExecutionID, Reason: request.Reason, MessageID: request.MessageID}
	return append(out, marker), refailed, nil
}

// rewoundStart is the ExecutionStarted of the execution rewound from the one start began.
func rewoundStart(start, request history.Event) history.Event {
	start.RewoundFrom = append(slices.Clone(start.RewoundFrom), start.ExecutionID)
	start.ExecutionID = request.ExecutionID
	if request.Parent != nil {
		start.Parent = request.Parent
	}
	if request.Trace != nil {
		start.Trace = request.Trace
	}
	return start
}

// reopened lists the calls of the replayed history still open, in task order, as the
// actions that send them again.
func (ep *episode) reopened(refailed map[int64]*refailure) []Action {
	var out []Action
	for id, c := range ep.open {
		if c.sent == nil || c.received {
			continue
		}
		a := *c.sent
		switch a.Kind {
		case ScheduleActivity:
			if r, ok := refailed[id]; ok {
				a.Attempt = r.attempt
				if d := heartbeatDetails(r.failure); d != nil {
					a.LastHeartbeat = d
				}
			}
		case StartChild:
			a = Action{Kind: RewindChild, TaskID: id, Name: a.Name, InstanceID: a.InstanceID, Attempt: a.Attempt}
		case CreateTimer:
		default:
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Action) int { return int(a.TaskID - b.TaskID) })
	return out
}
