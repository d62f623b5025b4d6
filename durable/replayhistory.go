package durable

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warrenhq/warren/history"
)

// Replay runs the orchestrator over the recorded history of one execution (the events of
// `client history ID --json`, or durabletest's Harness.History) and checks that today's
// code makes the calls the history recorded, in order, episode by episode, and ends where
// the history ended. It returns nil when the code matches, a *NonDeterminismError naming
// both sides and the event where they part when it does not, and another error for a
// history it cannot run (empty, not beginning with ExecutionStarted, an orchestrator the
// registry lacks).
//
// Replay is stricter than a worker's replay: a call the code makes where a recorded episode
// made none is a difference too (a worker would send it as new), since every episode
// recorded all the calls its code made. Activity and child inputs are not compared. Like
// Execute, it does no I/O and leaves no goroutine behind.
func (e *Executor) Replay(instanceID string, events []history.Event) error {
	if len(events) == 0 {
		return errors.New("durable: replay: the history is empty")
	}
	if err := checkStart(events, nil); err != nil {
		return fmt.Errorf("durable: replay: %w", err)
	}
	for i := range events {
		if ev := &events[i]; ev.Kind == history.ExecutionStarted {
			if e.reg.orchestrator(ev.Name) == nil {
				return fmt.Errorf("durable: replay: orchestrator %q is not registered (registered: %v)", ev.Name, e.reg.Orchestrators())
			}
			break
		}
	}
	ep := newEpisode(e.reg, instanceID, time.Time{})
	defer ep.close()
	return ep.replayAll(events)
}

// replayAll walks a whole history as replay. At each episode's end (the next
// OrchestratorStarted, or the end of the history) every call the code has made must have
// been matched, and the code must not have ended; at a recorded end it must end the same
// way.
func (ep *episode) replayAll(events []history.Event) error {
	ep.replaying = true
	ep.notePatches(events)
	for i := range events {
		ev := &events[i]
		ep.at = i
		switch ev.Kind {
		case history.OrchestratorStarted:
			if err := ep.checkEpisodeEnd(i, "another episode"); err != nil {
				return err
			}
		case history.ExecutionCompleted, history.ExecutionFailed, history.ContinuedAsNew:
			return ep.checkEnd(i, ev)
		}
		ep.handle(ev, false)
		if ep.nondeterminism != nil {
			return ep.nondeterminism
		}
		if ep.status == history.StatusTerminated {
			return nil // a terminated episode records none of the calls its code made
		}
	}
	return ep.checkEpisodeEnd(len(events), "the execution still running")
}

// checkEpisodeEnd checks the code's state where a recorded episode ends (at event i).
func (ep *episode) checkEpisodeEnd(i int, recorded string) error {
	if i == 0 {
		return nil
	}
	if err := ep.checkNoExtraCall(i); err != nil {
		return err
	}
	if what := ep.codeEnd(); what != "" {
		return &NonDeterminismError{Event: i, Recorded: recorded, Requested: what}
	}
	return nil
}

// checkNoExtraCall reports a call the code made that the episode ending at event i did not
// record.
func (ep *episode) checkNoExtraCall(i int) error {
	if ep.pendingHead == len(ep.pending) {
		return nil
	}
	p := &ep.pending[ep.pendingHead]
	requested := describe(&p.ev)
	if p.ev.TaskID != 0 {
		requested += fmt.Sprintf(" as task %d", p.ev.TaskID)
	}
	return &NonDeterminismError{Event: i, Recorded: "no further call in that episode", Requested: requested}
}

// checkEnd checks the code's state against the recorded end ev (at event i).
func (ep *episode) checkEnd(i int, ev *history.Event) error {
	// Once the code has failed, the calls recorded before the failure are not matched.
	if ep.status != history.StatusFailed {
		if err := ep.checkNoExtraCall(i); err != nil {
			return err
		}
	}
	want := map[history.Kind]string{
		history.ExecutionCompleted: "completion",
		history.ExecutionFailed:    "failure",
		history.ContinuedAsNew:     "continue-as-new",
	}[ev.Kind]
	what := ep.codeEnd()
	if what == "" {
		what = "no end (the orchestrator is still waiting)"
	}
	if !strings.HasPrefix(what, want) {
		return &NonDeterminismError{Event: i, Recorded: want, Requested: what}
	}
	return nil
}

// codeEnd says how the orchestrator has ended during replay ("" while it has not):
// "completion", "continue-as-new", or "failure (Type: message)".
func (ep *episode) codeEnd() string {
	switch {
	case ep.status == history.StatusFailed: // a panic, or an unregistered orchestrator
		return "failure (" + ep.failure.Error() + ")"
	case !ep.orchDone:
		return ""
	case ep.can != nil && ep.can.err != nil:
		return "failure (" + failureOf(ep.can.err).Error() + ")"
	case ep.can != nil:
		return "continue-as-new"
	case ep.orchErr != nil:
		return "failure (" + failureOf(ep.orchErr).Error() + ")"
	}
	return "completion"
}
