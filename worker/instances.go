package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
)

// episodeOutcome is what the executor decided in a committed episode, kept for the
// instance update and for tracing.
type episodeOutcome struct {
	res     *durable.Result
	started history.Event
	now     time.Time
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
	return episodeContext{instanceID: s.inst.InstanceID, executionID: s.inst.ExecutionID,
		name: started.Name, started: started, orchTrace: orchestrationTrace(started)}
}

// loadState returns the instance's state from the cache (cached true), or from the store
// on a miss. A nil state with a nil error means the store has no such instance. epoch is
// the ownership epoch of the instance's partition, read before the batch began.
func (w *Worker) loadState(ctx context.Context, id string, epoch int64) (st *instanceState, cached bool, err error) {
	if st := w.cache.get(id, epoch); st != nil {
		w.metrics.cacheHits.Inc()
		return st, true, nil
	}
	w.metrics.cacheMisses.Inc()
	inst, err := w.store.GetInstance(ctx, id)
	if errors.Is(err, history.ErrInstanceNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	eps, err := w.store.LoadHistory(ctx, id, inst.ExecutionID)
	if err != nil {
		return nil, false, err
	}
	st = newState(*inst, eps)
	w.cache.put(id, st, epoch)
	return st, false, nil
}

// writeExecutionDoc records a new execution in the instance document before its first
// episode is committed, so that a worker that reloads the instance after a crash finds the
// execution its history belongs to. The previous execution has ended by its history, which
// is what counts: its document may still say Running if the write after its last episode
// failed. The write is monotonic (Executions grows), so a stale worker cannot undo it.
func (w *Worker) writeExecutionDoc(ctx context.Context, st *instanceState, create bool) error {
	if create {
		return w.store.CreateInstance(ctx, &st.inst)
	}
	return w.store.UpdateInstance(ctx, &st.inst)
}

// updateInstances applies committed episodes to their states and owes the store the
// instance documents whose reader-visible fields changed, and the repairs (docWriter writes
// them off the critical path). published says whether the batch's outboxes were
// confirmed. The executions that ended are announced now, with their documents, so that
// waiters need not read the store, whose document may lag.
func (w *Worker) updateInstances(ctx context.Context, plans []*episodePlan, published bool) {
	var ended []history.Instance
	now := w.now()
	for _, p := range plans {
		st := p.state
		if published && st != nil {
			for _, n := range p.resent {
				st.published[n] = true
			}
		}
		if p.repair != nil {
			w.docs.owe(*p.repair, now, p.repair.Status.Terminal())
		}
		if p.episode == nil || p.result == nil {
			continue
		}
		before := st.inst
		st.fresh = false
		st.apply(p.episode)
		st.published[p.episode.Number] = published
		res := p.result.res
		st.inst.Status = res.Status
		st.inst.Output = res.Output
		st.inst.Failure = res.Failure
		st.inst.CustomStatus = res.CustomStatus
		st.inst.LastEpisode = p.episode.Number
		w.cache.put(p.id, st, p.epoch)
		if s := res.Status; s.Terminal() || s == history.StatusContinuedAsNew {
			w.metrics.executionEnded(s)
		}
		if !visibleChange(before, st.inst) {
			continue
		}
		st.inst.LastUpdatedAt = p.result.now
		big := false
		if st.inst.Status.Terminal() {
			if b, err := json.Marshal(&st.inst); err != nil || len(b) > maxAnnouncedDoc {
				big = true
			} else {
				ended = append(ended, st.inst)
			}
		}
		w.docs.owe(st.inst, now, big)
	}
	w.announce(ctx, ended, true)
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
