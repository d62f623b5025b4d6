package worker

import (
	"bytes"
	"time"

	"github.com/warrenhq/warren/history"
)

// instanceState is what a worker knows of one instance's current execution: enough to run
// the next episode without touching the store.
type instanceState struct {
	inst    history.Instance
	past    []history.Event // the execution's committed events, in order
	started history.Event
	// episodes is the number of committed episodes; the next one is episodes+1.
	episodes int64
	// consumed maps the id of every message a committed episode consumed to that episode,
	// so a redelivery can be recognised and its episode's outbox published again.
	consumed map[string]int64
	outboxes map[int64][]history.OutboxMessage
	// carried marks the consumed ids that were events a start carried (continue-as-new):
	// their own messages are copies, and a redelivered copy says nothing of a lost publish
	// (the start it came with does).
	carried map[string]bool
	// published marks the episodes whose outbox this worker has seen confirmed by the broker.
	published map[int64]bool
	// chained marks the episodes that consumed a result of an activity run in place
	// (history.Episode.Chained).
	chained map[int64]bool
	status  history.Status
	// fresh marks a new execution whose instance document has not been written yet.
	fresh bool
	// resends counts the times the timer watch sent each overdue timer again.
	resends map[int64]int
}

func newState(inst history.Instance, episodes []history.Episode) *instanceState {
	s := &instanceState{inst: inst, status: inst.Status, consumed: map[string]int64{},
		outboxes: map[int64][]history.OutboxMessage{}, carried: map[string]bool{}, published: map[int64]bool{},
		chained: map[int64]bool{}, resends: map[int64]int{}}
	for i := range episodes {
		s.apply(&episodes[i])
	}
	return s
}

// apply adds a committed episode to the state.
func (s *instanceState) apply(ep *history.Episode) {
	s.past = append(s.past, ep.Events...)
	s.episodes = ep.Number
	for _, id := range ep.Consumed {
		s.consumed[id] = ep.Number
	}
	if len(ep.Outbox) > 0 {
		s.outboxes[ep.Number] = ep.Outbox
	}
	if ep.Chained {
		s.chained[ep.Number] = true
	}
	next := "" // the id the next event a start carried would have
	carried := 0
	for _, ev := range ep.Events {
		switch {
		case ev.Kind == history.ExecutionStarted:
			s.started = ev
			next, carried = carriedMessageID(ev.MessageID, 0), 0
		case next != "" && ev.MessageID == next:
			s.carried[ev.MessageID] = true
			carried++
			next = carriedMessageID(s.started.MessageID, carried)
		default:
			next = ""
		}
		s.status = history.StatusAfter(s.status, ev)
	}
}

// finished reports whether the current execution will take no more events.
func (s *instanceState) finished() bool {
	return s.status.Terminal() || s.status == history.StatusContinuedAsNew
}

func (s *instanceState) consumedBy(messageID string) (int64, bool) {
	if s == nil {
		return 0, false
	}
	n, ok := s.consumed[messageID]
	return n, ok
}

// acceptsStart reports whether an ExecutionStarted may begin a new execution: the instance has not started yet (the dispatcher created it Pending), or its
// last execution has ended (continue-as-new, a retried child, a restart).
func (s *instanceState) acceptsStart() bool {
	return s.started.Kind == "" || s.finished()
}

// freshState is the state of a new execution begun by start; it keeps the instance's
// creation time when the instance already existed.
func freshState(id string, old *instanceState, start history.Event, now time.Time) *instanceState {
	inst := history.Instance{InstanceID: id, CreatedAt: now}
	if old != nil {
		inst.CreatedAt = old.inst.CreatedAt
	}
	inst.Name = start.Name
	inst.ExecutionID = start.ExecutionID
	inst.Status = history.StatusPending
	inst.Input = start.Input
	inst.LastUpdatedAt = now
	if start.Parent != nil {
		inst.ParentInstanceID = start.Parent.InstanceID
	}
	inst.TraceID = traceIDOf(start.Trace)
	inst.Executions = 1
	if old != nil {
		inst.Executions = old.inst.Executions + 1
		if old.started.Kind == "" && old.inst.ExecutionID == start.ExecutionID {
			inst.Executions = max(old.inst.Executions, 1) // the dispatcher's document of this very start
		}
	}
	st := newState(inst, nil)
	st.fresh = true
	if old != nil {
		// The inputs of the previous execution's last episode may come back (their acks
		// were lost, or the document write after it failed): they were applied once there
		// and are copies here. Episode 0 stands for the previous execution.
		for id, n := range old.consumed {
			if n == old.episodes && n > 0 {
				st.consumed[id] = 0
			}
		}
		st.published[0] = true
	}
	return st
}

// episodeContext describes the instance to the outbox builder; the ExecutionStarted is in
// newEvents on an execution's first episode.
func (s *instanceState) episodeContext(newEvents []history.Event) episodeContext {
	started := s.started
	if started.Kind == "" {
		for _, ev := range newEvents {
			if ev.Kind == history.ExecutionStarted {
				started = ev
				break
			}
		}
	}
	return episodeContext{instanceID: s.inst.InstanceID, executionID: s.inst.ExecutionID, executions: s.inst.Executions,
		name: started.Name, started: started, orchTrace: orchestrationTrace(started)}
}

// docRepair returns the document to write again for an instance loaded from a store whose
// document lags its history (a worker that owed it died or lost the partition), or nil.
func (s *instanceState) docRepair() *history.Instance {
	if s == nil || s.fresh || s.started.Kind == "" || s.inst.Status == s.status {
		return nil // up to date, or no history yet: the document is the dispatcher's
	}
	var at time.Time
	if ev, ok := s.endEvent(); ok {
		at = ev.Timestamp
	}
	doc := history.ReconcileEvents(&s.inst, s.past, s.episodes, at)
	if doc == &s.inst {
		// The document has seen the last episode yet shows another status: write it as the
		// history says all the same.
		fixed := *doc
		fixed.Status = s.status
		doc = &fixed
	}
	return doc
}

// endEvent is the event that ended the execution, if it has ended.
func (s *instanceState) endEvent() (history.Event, bool) {
	for i := len(s.past) - 1; i >= 0; i-- {
		switch s.past[i].Kind {
		case history.ExecutionCompleted, history.ExecutionFailed, history.ExecutionTerminated, history.ContinuedAsNew:
			return s.past[i], true
		}
	}
	return history.Event{}, false
}

func visibleChange(a, b history.Instance) bool {
	return a.Status != b.Status || a.ExecutionID != b.ExecutionID ||
		!bytes.Equal(a.Output, b.Output) || !bytes.Equal(a.CustomStatus, b.CustomStatus) ||
		(a.Failure == nil) != (b.Failure == nil)
}
