package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
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
	return &instanceState{inst: inst, status: history.StatusPending, consumed: map[string]int64{},
		outboxes: map[int64][]history.OutboxMessage{}, fresh: true}
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

// loadState returns the instance's state from the cache, or from the store on a miss. A
// nil state with a nil error means the store has no such instance.
func (w *Worker) loadState(ctx context.Context, id string) (*instanceState, error) {
	if st := w.cache.get(id); st != nil {
		return st, nil
	}
	inst, err := w.store.GetInstance(ctx, id)
	if errors.Is(err, history.ErrInstanceNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	eps, err := w.store.LoadHistory(ctx, id, inst.ExecutionID)
	if err != nil {
		return nil, err
	}
	st := newState(*inst, eps)
	w.cache.put(id, st)
	return st, nil
}

// writeExecutionDoc records a new execution in the instance document before its first
// episode is committed, so that a worker that reloads the instance after a crash finds the
// execution its history belongs to.
func (w *Worker) writeExecutionDoc(ctx context.Context, st *instanceState) error {
	err := w.store.CreateInstance(ctx, &st.inst)
	if errors.Is(err, history.ErrInstanceExists) {
		cur, gerr := w.store.GetInstance(ctx, st.inst.InstanceID)
		if gerr != nil {
			return gerr
		}
		if cur.ExecutionID != st.inst.ExecutionID && !cur.Status.Terminal() &&
			cur.Status != history.StatusContinuedAsNew && cur.Status != history.StatusPending {
			return fmt.Errorf("instance %q is running execution %s", cur.InstanceID, cur.ExecutionID)
		}
		st.inst.CreatedAt = cur.CreatedAt
		err = w.store.UpdateInstance(ctx, &st.inst)
	}
	return err
}

// updateInstances applies committed episodes to their states and writes the instance
// documents whose reader-visible fields changed. A write that fails keeps the episode's
// inputs unacked: they come back, and the redelivery writes the document again.
func (w *Worker) updateInstances(ctx context.Context, plans []*episodePlan) {
	var wg sync.WaitGroup
	for _, p := range plans {
		if p.repair != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if w.writeDoc(ctx, p, p.repair) {
					p.state.inst = *p.repair
				}
			}()
		}
		if p.episode == nil || p.result == nil {
			continue
		}
		st := p.state
		before := st.inst
		st.fresh = false
		st.apply(p.episode)
		res := p.result.res
		st.inst.Status = res.Status
		st.inst.Output = res.Output
		st.inst.Failure = res.Failure
		st.inst.CustomStatus = res.CustomStatus
		st.inst.LastEpisode = p.episode.Number
		w.cache.put(p.id, st)
		if !visibleChange(before, st.inst) {
			continue
		}
		st.inst.LastUpdatedAt = p.result.now
		inst := st.inst
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.writeDoc(ctx, p, &inst)
		}()
	}
	wg.Wait()
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

// writeDoc writes an instance document; on failure the plan's inputs go back to the queue.
// A document that shows an ended execution is announced, so that waiters learn of it.
func (w *Worker) writeDoc(ctx context.Context, p *episodePlan, inst *history.Instance) bool {
	err := w.store.UpdateInstance(ctx, inst)
	if err == nil && inst.Status.Terminal() {
		p.ended = inst.InstanceID
	}
	if err != nil {
		w.log.Warn("updating instance failed; its messages will come back", "instance", inst.InstanceID, "err", err)
		w.cache.drop(inst.InstanceID)
		p.trouble = true
		p.requeue = append(p.requeue, p.inputs...)
		p.requeue = append(p.requeue, p.done...)
		p.inputs, p.done = nil, nil
	}
	return err == nil
}

// staleEnd returns the document an ended execution should have when the stored one does
// not show its end yet (the write after its last episode failed), or nil.
func (s *instanceState) staleEnd() *history.Instance {
	if s == nil || s.fresh || s.inst.Status == s.status || !(s.status.Terminal() || s.status == history.StatusContinuedAsNew) {
		return nil
	}
	doc := s.inst
	doc.Status = s.status
	for i := len(s.past) - 1; i >= 0; i-- {
		ev := s.past[i]
		switch ev.Kind {
		case history.ExecutionCompleted:
			doc.Output = ev.Result
		case history.ExecutionFailed:
			doc.Failure = ev.Failure
		case history.ExecutionTerminated:
			doc.Failure = &history.Failure{Type: "Terminated", Message: ev.Reason}
		case history.ContinuedAsNew:
		default:
			continue
		}
		doc.LastUpdatedAt = ev.Timestamp
		return &doc
	}
	return nil
}

func visibleChange(a, b history.Instance) bool {
	return a.Status != b.Status || a.ExecutionID != b.ExecutionID ||
		!bytes.Equal(a.Output, b.Output) || !bytes.Equal(a.CustomStatus, b.CustomStatus) ||
		(a.Failure == nil) != (b.Failure == nil)
}
