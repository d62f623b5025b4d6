package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/queues"
)

// planRewind plans the first episode of the execution rewound from old's failed one
// (durable.Executor.Rewind): its document is written first, as for any new execution, and
// the episode holds the new execution's whole history so far and sends again the calls
// still open. It consumes every message the failed execution consumed as well, so that a
// copy of one is recognised.
func (w *Worker) planRewind(ctx context.Context, p *episodePlan, old *instanceState, m inbound, now time.Time) {
	req := m.msg.Event
	req.MessageID = m.d.ID
	if req.Timestamp.IsZero() {
		req.Timestamp = now
	}
	recorded := false
	if old.started.Kind == "" {
		// The document names this rewound execution already: its worker died before
		// committing the first episode. Rewind the failed execution the document names.
		eps, err := w.store.LoadHistory(ctx, p.id, old.inst.RewoundFrom)
		if err != nil {
			w.metrics.storeError("load_history")
			p.trouble = true
			p.retry = append([]*queues.Delivery{m.d}, p.retry...)
			return
		}
		failed := old.inst
		failed.ExecutionID, failed.Executions, failed.Status, failed.RewoundFrom = old.inst.RewoundFrom, old.inst.Executions-1, history.StatusFailed, ""
		old, recorded = newState(failed, eps), true
	}
	res, err := w.exec.Rewind(p.id, old.past, req, now)
	if err != nil {
		p.dead.add(m.d, deadRewind, err.Error())
		return
	}
	start := res.NewEvents[slices.IndexFunc(res.NewEvents, func(ev history.Event) bool { return ev.Kind == history.ExecutionStarted })]
	next := freshState(p.id, old, start, now)
	next.inst.RewoundFrom = old.inst.ExecutionID
	if !recorded {
		if err := w.writeExecutionDoc(ctx, next, false); err != nil {
			w.cache.drop(p.id)
			if !errors.Is(err, history.ErrStaleInstance) {
				w.metrics.storeError("write_instance")
				w.log.Warn("recording the rewound execution failed", logging.Instance(p.id, next.spanContext(), "err", err)...)
				p.trouble = true
			}
			p.retry = append([]*queues.Delivery{m.d}, p.retry...)
			return
		}
		w.docs.forget(&next.inst)
	}
	consumed := make([]string, 0, len(old.consumed)+1)
	for id := range old.consumed {
		consumed = append(consumed, id)
	}
	slices.Sort(consumed)
	consumed = append(consumed, m.d.ID)
	p.state = next
	p.inputs = append(p.inputs, m.d)
	p.incoming = []history.Event{start}
	ec := next.episodeContext(res.NewEvents)
	outbox, err := buildOutbox(ec, res, w.newSpanID)
	if err != nil {
		w.failEpisode(p, p.incoming, consumed, &history.Failure{Type: "OrchestrationError", Message: "building the messages it sends: " + err.Error()}, now)
		return
	}
	p.episode = &history.Episode{InstanceID: p.id, ExecutionID: next.inst.ExecutionID, Number: 1,
		Events: res.NewEvents, Outbox: outbox, Consumed: consumed, CommittedAt: now}
	p.result = &episodeOutcome{res: res, started: start, now: now}
	w.log.Info("rewinding an instance", logging.Instance(p.id, next.spanContext(), "from", old.inst.ExecutionID, "execution", next.inst.ExecutionID)...)
}

// refuseRewind answers an ExecutionRewound that cannot rewind st. A child asked by its
// rewound parent answers the parent: with its end again if it has ended otherwise (the
// parent's failed execution may have dropped it), with nothing while it runs (its end
// will reach the parent's new execution, which takes those of the executions it was
// rewound from), else with a RewindRefused failure, so the parent does not wait for ever.
// A client's rewind is dead-lettered with why.
func (w *Worker) refuseRewind(p *episodePlan, st *instanceState, m inbound) {
	asked := m.msg.Event.Parent
	why := "it does not exist"
	if st != nil {
		why = fmt.Sprintf("it is %s (execution %s); only a Failed instance can be rewound", st.status, st.inst.ExecutionID)
	}
	if asked == nil {
		p.dead.add(m.d, deadRewind, fmt.Sprintf("instance %q cannot be rewound: %s", p.id, why))
		return
	}
	var notice history.Event
	switch {
	case st != nil && st.started.Kind != "" && sameCall(st.started.Parent, asked) && !st.finished():
		p.done = append(p.done, m.d)
		return
	case st != nil && st.started.Kind != "" && sameCall(st.started.Parent, asked) && st.status.Terminal():
		end, _ := st.endEvent()
		res := &durable.Result{Status: st.status, Output: end.Result, Failure: end.Failure}
		ec := st.episodeContext(nil)
		ec.started.Parent = asked
		om, err := parentNotice(ec, res)
		if err == nil {
			om.ID = m.d.ID + "/answer"
			p.republish = append(p.republish, om)
			p.done = append(p.done, m.d)
			return
		}
		why = err.Error()
	case st != nil && !sameCall(st.started.Parent, asked):
		why = "it is not this call's child any more"
	}
	notice = history.Event{Version: history.VersionOf(history.SubOrchestrationFailed), Kind: history.SubOrchestrationFailed, TaskID: asked.TaskID, InstanceID: p.id,
		Failure: &history.Failure{Type: durable.RewindRefused, Message: fmt.Sprintf("child %q cannot be rewound with its parent: %s", p.id, why)}}
	om, err := controlMessage(m.d.ID+"/answer", asked.InstanceID, asked.ExecutionID, notice)
	if err != nil {
		p.dead.add(m.d, deadRewind, why)
		return
	}
	p.republish = append(p.republish, om)
	p.done = append(p.done, m.d)
}
