package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/queues"
)

// plan runs the orchestrator for one instance over its messages of this batch: each
// message is classified against the instance's state (classify) and the verdicts are
// carried out; the messages the new episode consumes are run through the executor.
func (w *Worker) plan(ctx context.Context, id string, msgs []inbound) (p *episodePlan) {
	p = &episodePlan{id: id}
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("episode panicked", logging.Instance(id, deliverySpan(msgs[0].d), "panic", r, "stack", string(debug.Stack()))...)
			w.cache.drop(id)
			// Sending them back would only panic again, on and on: they go to the dead-letter
			// queue with the reason instead.
			*p = episodePlan{id: id}
			for _, m := range msgs {
				p.dead.add(m.d, deadPanic, fmt.Sprintf("the worker panicked processing this message: %v", r))
			}
		}
	}()
	if err := history.CheckInstanceID(id); err != nil {
		w.refuseAll(p, msgs, deadInvalidID, err.Error())
		return p
	}
	if err := w.inlineMessages(ctx, msgs); errors.Is(err, history.ErrPayloadNotFound) {
		w.refuseAll(p, msgs, deadPayload, "a payload this message refers to is gone (its sender was purged): "+err.Error())
		return p
	} else if err != nil {
		w.metrics.storeError("get_payloads")
		w.log.Warn("reading payloads failed", logging.Instance(id, deliverySpan(msgs[0].d), "err", err)...)
		p.trouble = true
		p.retry = deliveries(msgs)
		return p
	}
	p.epoch = w.epochOf(id)
	var (
		st     *instanceState
		cached bool
		err    error
	)
	presumed := w.presumeNew(id, p.epoch, msgs[0])
	if !presumed {
		st, cached, err = w.loadState(ctx, id, p.epoch)
	}
	if errors.Is(err, history.ErrNewerVersion) {
		w.waitForNewer(p, deliveries(msgs), err)
		return p
	}
	if err != nil {
		if permanent(err) {
			w.refuseAll(p, msgs, deadStore, "the store refuses this instance: "+err.Error())
			return p
		}
		w.metrics.storeError("load_history")
		w.log.Warn("loading history failed", logging.Instance(id, deliverySpan(msgs[0].d), "err", err)...)
		p.trouble = true
		p.retry = deliveries(msgs)
		return p
	}
	now := w.now()
	var incoming []history.Event
	var consumed []string
	var deferred []inbound // waiting for an execution to begin
	begun := false
	// taken are the ids of the messages this episode consumes, and of the events a start
	// carried (continue-as-new): another message of the batch with one of them is a copy.
	taken := map[string]bool{}
	// take makes a message an input of this episode.
	take := func(m inbound) {
		ev := m.msg.Event
		carried := ev.Carried
		ev.Carried = nil
		if ev.Timestamp.IsZero() {
			ev.Timestamp = now
		}
		ev.MessageID = m.d.ID
		incoming = append(incoming, ev)
		consumed = append(consumed, m.d.ID)
		taken[m.d.ID] = true
		p.inputs = append(p.inputs, m.d)
		if ev.Kind != history.ExecutionStarted {
			return
		}
		for i, c := range carried {
			c.MessageID = carriedMessageID(m.d.ID, i)
			if c.Timestamp.IsZero() {
				c.Timestamp = now
			}
			incoming = append(incoming, c)
			consumed = append(consumed, c.MessageID)
			taken[c.MessageID] = true
		}
	}
	for i := 0; i < len(msgs); i++ {
		m := msgs[i]
		if taken[m.d.ID] {
			// Another copy of a message this episode consumes: it is settled with it.
			p.inputs = append(p.inputs, m.d)
			continue
		}
		v := classify(st, arrival{id: m.d.ID, redelivered: m.d.Redelivered, deliveries: m.d.DeliveryCount, msg: m.msg}, cached)
		if v == reload || ((v == begin || v == rewind) && len(incoming) > 0) {
			if len(incoming) > 0 {
				// The episode so far is computed on this state: the rest waits for a later one.
				p.retry = append(p.retry, deliveries(msgs[i:])...)
				break
			}
			w.cache.drop(id)
			if st, cached, err = w.loadState(ctx, id, p.epoch); errors.Is(err, history.ErrNewerVersion) {
				w.waitForNewer(p, append(deliveries(deferred), deliveries(msgs[i:])...), err)
				return p
			} else if err != nil {
				w.metrics.storeError("load_history")
				w.log.Warn("loading history failed", logging.Instance(id, deliverySpan(m.d), "err", err)...)
				p.trouble = true
				p.retry = append(append(p.retry, deliveries(deferred)...), deliveries(msgs[i:])...)
				return p
			}
			v = classify(st, arrival{id: m.d.ID, redelivered: m.d.Redelivered, deliveries: m.d.DeliveryCount, msg: m.msg}, false)
		}
		ev := m.msg.Event
		switch v {
		case seen, stale:
			p.done = append(p.done, m.d)
			continue
		case resend:
			out, eps := st.resendFrom(st.consumed[m.d.ID])
			p.republish = append(p.republish, w.notRunningHere(id, p.epoch, out)...)
			p.resent = append(p.resent, eps...)
			p.done = append(p.done, m.d)
			continue
		case later:
			deferred = append(deferred, m) // a start later in this batch may be what it waits for
			continue
		case conflict:
			w.rejectStart(p, m, ev, "InstanceExists", fmt.Sprintf("instance %q is already running (execution %s)", id, st.inst.ExecutionID))
			continue
		case refused:
			p.dead.add(m.d, deadRefused, fmt.Sprintf("instance %q: the dispatcher gave this start up (StartNotQueued) and told its caller so; it does not run", id))
			continue
		case orphan:
			p.dead.add(m.d, deadOrphan, fmt.Sprintf("instance %q has not started: %s was delivered %d times waiting for its start", id, ev.Kind, m.d.DeliveryCount))
			continue
		case norewind:
			w.refuseRewind(p, st, m)
			continue
		case rewind:
			// The rewound execution's first episode is this message's alone: the rest wait
			// for the next batch, which sees the new execution.
			p.retry = append(p.retry, deliveries(msgs[i+1:])...)
			p.requeue = append(p.requeue, deliveries(deferred)...)
			w.planRewind(ctx, p, st, m, now)
			return p
		case begin:
			next := freshState(id, st, ev, now)
			recorded := st != nil && st.started.Kind == "" && st.inst.ExecutionID == ev.ExecutionID
			if presumed && st == nil && m.msg.Recorded > 0 {
				// The sender wrote this execution into the document: take its word for it.
				next.inst.Executions = m.msg.Recorded
				if !ev.Timestamp.IsZero() {
					next.inst.CreatedAt = ev.Timestamp
				}
				recorded = true
			}
			if !recorded {
				if err := w.writeExecutionDoc(ctx, next, st == nil); err != nil {
					w.cache.drop(id)
					if permanent(err) {
						w.rejectStart(p, m, ev, "InvalidInstance", fmt.Sprintf("instance %q cannot be stored: %v", id, err))
						continue
					}
					if !errors.Is(err, history.ErrStaleInstance) && !errors.Is(err, history.ErrInstanceExists) {
						w.metrics.storeError("write_instance")
						w.log.Warn("recording new execution failed", logging.Instance(id, next.spanContext(), "err", err)...)
						p.trouble = true
					}
					p.retry = append(append(p.retry, deliveries(deferred)...), deliveries(msgs[i:])...)
					return p
				}
				w.docs.forget(&next.inst)
			}
			st, cached, begun = next, false, true
		}
		take(m)
	}
	// Messages that overtook the start of their execution join it when it began in this
	// batch; the others go back to the broker, behind which their start waits.
	for _, m := range deferred {
		if taken[m.d.ID] {
			p.inputs = append(p.inputs, m.d)
			continue
		}
		if begun && classify(st, arrival{id: m.d.ID, redelivered: m.d.Redelivered, deliveries: m.d.DeliveryCount, msg: m.msg}, false) == apply {
			take(m)
			continue
		}
		p.requeue = append(p.requeue, m.d)
	}
	p.state = st
	if len(incoming) == 0 {
		p.repair = st.docRepair()
		return p
	}
	res, err := w.exec.Execute(id, st.past, incoming, now)
	if err != nil {
		w.failEpisode(p, incoming, consumed, &history.Failure{Type: "OrchestrationError", Message: err.Error()}, now)
		return p
	}
	ec := st.episodeContext(res.NewEvents)
	outbox, err := buildOutbox(ec, res, w.newSpanID)
	if err != nil {
		w.failEpisode(p, incoming, consumed, &history.Failure{Type: "OrchestrationError", Message: "building the messages it sends: " + err.Error()}, now)
		return p
	}
	names := scheduledNames(id, st.inst.ExecutionID, res.NewEvents)
	folds := w.foldable(p, outbox, names)
	outbox, payloads, err := offloadOutbox(id, st.inst.ExecutionID, outbox, w.cfg.PayloadInlineMax)
	if err != nil {
		w.releaseSlots(len(folds))
		w.failEpisode(p, incoming, consumed, &history.Failure{Type: "OrchestrationError", Message: "building the messages it sends: " + err.Error()}, now)
		return p
	}
	p.episode = &history.Episode{
		InstanceID: id, ExecutionID: st.inst.ExecutionID, Number: st.episodes + 1,
		Events: res.NewEvents, Outbox: outbox, Consumed: consumed, CommittedAt: now, Payloads: payloads,
		Chained: slices.ContainsFunc(p.inputs, isInPlace),
	}
	p.result = &episodeOutcome{res: res, started: ec.started, now: now}
	p.incoming = incoming
	w.startFolds(p, st, ec, folds, names)
	return p
}

// presumeNew reports whether the instance's batch may begin without reading the store: it
// is not cached and its first message is a start the broker hands out for the first time,
// so most likely a new instance (a dispatcher's start, a new child). Should it exist after
// all, writing its document (a child's) or committing its first episode fails on a
// duplicate key, the messages come back marked redelivered, and the next batch reads.
func (w *Worker) presumeNew(id string, epoch int64, first inbound) bool {
	return first.msg.Event.Kind == history.ExecutionStarted && !first.d.Redelivered && w.cache.get(id, epoch) == nil
}

// rejectStart answers a start that cannot begin: a child's parent learns that its child
// failed, with why; anything else is dead-lettered with why.
func (w *Worker) rejectStart(p *episodePlan, m inbound, ev history.Event, kind, why string) {
	reason := deadInvalidID
	if kind == "InstanceExists" {
		reason = deadConflict
	}
	if ev.Parent == nil {
		p.dead.add(m.d, reason, why)
		return
	}
	notice := history.Event{Version: history.VersionOf(history.SubOrchestrationFailed), Kind: history.SubOrchestrationFailed,
		TaskID: ev.Parent.TaskID, InstanceID: m.msg.InstanceID,
		Failure: &history.Failure{Type: kind, Message: why}}
	om, err := controlMessage(m.d.ID+"/rejected", ev.Parent.InstanceID, ev.Parent.ExecutionID, notice)
	if err != nil {
		p.dead.add(m.d, reason, why)
		return
	}
	p.republish = append(p.republish, om)
	p.done = append(p.done, m.d)
}

// refuseAll settles every message of an instance that can never exist (an invalid id):
// starts tell their parent, everything goes to the dead-letter queue with why.
func (w *Worker) refuseAll(p *episodePlan, msgs []inbound, reason, why string) {
	for _, m := range msgs {
		if m.msg.Event.Kind == history.ExecutionStarted && m.msg.Event.Parent != nil {
			w.rejectStart(p, m, m.msg.Event, "InvalidInstance", why)
			if p.dead.has(m.d) {
				continue
			}
			// The parent is told; the start itself is kept for inspection too.
			p.done = p.done[:len(p.done)-1]
		}
		p.dead.add(m.d, reason, why)
	}
}

// permanent reports whether a store error will be the same on every try.
func permanent(err error) bool {
	return errors.Is(err, history.ErrTooLarge) || errors.Is(err, history.ErrInvalidArgument)
}

func deliveries(msgs []inbound) []*queues.Delivery {
	out := make([]*queues.Delivery, len(msgs))
	for i, m := range msgs {
		out[i] = m.d
	}
	return out
}
