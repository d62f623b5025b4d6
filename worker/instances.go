package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	if err := history.CheckEpisodes(eps); err != nil {
		return nil, false, fmt.Errorf("instance %q: %w", id, err) // a newer version wrote it
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
			w.docs.oweRepair(*p.repair, now)
		}
		if p.episode == nil || p.result == nil {
			continue
		}
		before := st.inst
		st.fresh = false
		st.apply(p.episode)
		st.published[p.episode.Number] = published && !p.unsent
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
