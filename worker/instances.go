package worker

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
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
		return st, true, nil
	}
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

// updateInstances applies committed episodes to their states and writes the instance
// documents whose reader-visible fields changed, and the repairs. published says whether
// the batch's outboxes were confirmed. A write that fails keeps the episode's inputs
// unacked and the document marked unwritten: the inputs come back, and their redelivery
// writes the document again.
func (w *Worker) updateInstances(ctx context.Context, plans []*episodePlan, published bool) {
	type write struct {
		p   *episodePlan
		doc *history.Instance
	}
	var writes []write
	for _, p := range plans {
		st := p.state
		if published && st != nil {
			for _, n := range p.resent {
				st.published[n] = true
			}
		}
		if p.repair != nil {
			writes = append(writes, write{p, p.repair})
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
		if !visibleChange(before, st.inst) && !st.unwritten {
			continue
		}
		st.inst.LastUpdatedAt = p.result.now
		inst := st.inst
		writes = append(writes, write{p, &inst})
	}
	w.each(len(writes), func(i int) { w.writeDoc(ctx, writes[i].p, writes[i].doc) })
	w.announceEnded(ctx, plans)
}

// announceEnded tells the dispatchers' waiters which instances have ended. A lost notice
// costs a waiter only time: it also reads the store now and then.
func (w *Worker) announceEnded(ctx context.Context, plans []*episodePlan) {
	var notices []queues.Message
	for _, p := range plans {
		if p.ended != "" {
			notices = append(notices, queues.Message{ID: p.ended + "/ended/" + randomHex(4), Kind: history.MessageKindEnded, InstanceID: p.ended})
		}
	}
	if len(notices) == 0 {
		return
	}
	if err := w.broker.Announce(ctx, notices...); err != nil {
		w.log.Debug("announcing ended instances failed", "err", err)
	}
}

// writeDoc writes an instance document. On failure the plan's inputs go back to the queue
// and the cached state keeps the document as unwritten, so that their redelivery writes it
// again. A stored newer version (another worker has moved the instance on) means this
// worker's state is out of date: it is dropped from the cache. A document that shows an
// ended execution is announced, so that waiters learn of it.
func (w *Worker) writeDoc(ctx context.Context, p *episodePlan, doc *history.Instance) {
	err := w.store.UpdateInstance(ctx, doc)
	switch {
	case err == nil:
		p.state.unwritten = false
		p.state.inst = *doc
		if doc.Status.Terminal() {
			p.ended = doc.InstanceID
		}
	case errors.Is(err, history.ErrStaleInstance):
		w.cache.drop(doc.InstanceID)
	default:
		w.log.Warn("updating instance failed; its messages will come back", "instance", doc.InstanceID, "err", err)
		p.state.unwritten = true
		p.trouble = true
		p.retry = append(p.retry, p.inputs...)
		p.retry = append(p.retry, p.done...)
		p.inputs, p.done = nil, nil
	}
}

// docRepair returns the document to write again for an instance that had no new input, or
// nil: one whose last write failed on this worker (unwritten), or one loaded from a store
// whose document lags its history (the write after an episode failed on a worker that then
// died or lost the partition). A lagging document gets the status, episode and, for an
// ended execution, the output or failure from history; its custom status catches up with
// the next episode.
func (s *instanceState) docRepair() *history.Instance {
	if s == nil || s.fresh {
		return nil
	}
	if s.unwritten {
		doc := s.inst
		return &doc
	}
	if s.inst.Status == s.status {
		return nil
	}
	if s.started.Kind == "" {
		return nil // no history yet: the document is the dispatcher's
	}
	doc := s.inst
	doc.Status = s.status
	doc.LastEpisode = s.episodes
	if ev, ok := s.endEvent(); ok {
		switch ev.Kind {
		case history.ExecutionCompleted:
			doc.Output = ev.Result
		case history.ExecutionFailed:
			doc.Failure = ev.Failure
		case history.ExecutionTerminated:
			doc.Failure = &history.Failure{Type: "Terminated", Message: ev.Reason}
		}
		doc.LastUpdatedAt = ev.Timestamp
	}
	return &doc
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
