package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// inbound is one control message taken from a partition queue.
type inbound struct {
	d   *queues.Delivery
	msg history.ControlMessage
}

// episodePlan is one instance's share of a batch: the episode to commit (if any), what to
// publish and write afterwards, and how to settle each input message.
type episodePlan struct {
	id        string
	state     *instanceState // the state the episode was computed from
	episode   *history.Episode
	result    *episodeOutcome
	inputs    []*queues.Delivery          // consumed by the episode: acked after commit
	done      []*queues.Delivery          // redeliveries and stale messages: acked now
	requeue   []*queues.Delivery          // for a later episode (another execution)
	dead      map[*queues.Delivery]string // dead-lettered with a reason
	republish []history.OutboxMessage     // outboxes of episodes already committed
	// trouble marks a store or broker failure: the loop backs off before the next batch.
	trouble bool
	// repair is a document to write again: its execution ended but the stored one missed it.
	repair *history.Instance
	// ended is the instance id when this batch wrote the document of its ended execution.
	ended string
}

// processBatch runs one episode per instance over a batch of control messages, commits them
// all in one round trip, publishes their outboxes, updates what readers see, and only then
// acks the inputs (DESIGN.md section 4). It reports whether the store or the broker failed,
// so that the loop can back off instead of spinning on redeliveries.
func (w *Worker) processBatch(ctx context.Context, batch []*queues.Delivery) (trouble bool) {
	t0 := time.Now()
	groups, order := w.group(batch)
	plans := make([]*episodePlan, len(order))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, id := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			plans[i] = w.plan(ctx, id, groups[id])
		}()
	}
	wg.Wait()
	t1 := time.Now()

	// Commit every planned episode in one insertMany.
	var eps []*history.Episode
	var owners []*episodePlan
	for _, p := range plans {
		if p.episode != nil {
			eps = append(eps, p.episode)
			owners = append(owners, p)
		}
	}
	if len(eps) > 0 {
		errs := w.store.CommitEpisodes(ctx, eps)
		for i, err := range errs {
			if err == nil {
				continue
			}
			p := owners[i]
			w.cache.drop(p.id)
			if errors.Is(err, history.ErrEpisodeConflict) {
				w.log.Debug("episode conflict, will reload", "instance", p.id, "episode", p.episode.Number)
			} else {
				w.log.Warn("episode commit failed", "instance", p.id, "err", err)
				p.trouble = true
			}
			p.requeue = append(p.requeue, p.inputs...)
			p.inputs, p.episode, p.result = nil, nil, nil
		}
	}

	t2 := time.Now()

	// Publish outboxes (new and replayed) with confirms.
	var out []history.OutboxMessage
	for _, p := range plans {
		out = append(out, p.republish...)
		if p.episode != nil {
			out = append(out, p.episode.Outbox...)
		}
	}
	if err := w.publishOutbox(ctx, out); err != nil {
		// The episodes are committed: their inputs come back and step 3 publishes again.
		w.log.Warn("publishing outbox failed; inputs will be redelivered", "err", err)
		for _, p := range plans {
			p.trouble = true
			p.requeue = append(p.requeue, p.inputs...)
			p.requeue = append(p.requeue, p.done...)
			p.inputs, p.done = nil, nil
		}
	}

	t3 := time.Now()
	w.updateInstances(ctx, plans)
	t4 := time.Now()

	for _, p := range plans {
		if p.episode != nil && p.result != nil {
			w.traceEpisode(p)
		}
		for _, d := range p.inputs {
			_ = d.Ack()
		}
		for _, d := range p.done {
			_ = d.Ack()
		}
		for d, why := range p.dead {
			_ = d.DeadLetter(why)
		}
		for _, d := range p.requeue {
			_ = d.Nack(true)
		}
		trouble = trouble || p.trouble
	}
	w.log.Debug("batch", "messages", len(batch), "instances", len(order), "episodes", len(eps),
		"plan", t1.Sub(t0), "commit", t2.Sub(t1), "publish", t3.Sub(t2), "update", t4.Sub(t3), "ack", time.Since(t4))
	return trouble
}

// group decodes the batch and splits it by instance, keeping arrival order.
func (w *Worker) group(batch []*queues.Delivery) (map[string][]inbound, []string) {
	groups := map[string][]inbound{}
	var order []string
	for _, d := range batch {
		var m history.ControlMessage
		if err := json.Unmarshal(d.Body, &m); err != nil || m.InstanceID == "" {
			if err == nil {
				err = errors.New("no instance id")
			}
			_ = d.DeadLetter("undecodable control message: " + err.Error())
			continue
		}
		if _, ok := groups[m.InstanceID]; !ok {
			order = append(order, m.InstanceID)
		}
		groups[m.InstanceID] = append(groups[m.InstanceID], inbound{d: d, msg: m})
	}
	return groups, order
}

// plan runs the orchestrator for one instance over its messages of this batch.
func (w *Worker) plan(ctx context.Context, id string, msgs []inbound) (p *episodePlan) {
	p = &episodePlan{id: id, dead: map[*queues.Delivery]string{}}
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("episode panicked", "instance", id, "panic", r, "stack", string(debug.Stack()))
			w.cache.drop(id)
			// Sending them back would only panic again, on and on: they go to the dead-letter
			// queue with the reason instead.
			*p = episodePlan{id: id, dead: map[*queues.Delivery]string{}}
			for _, m := range msgs {
				p.dead[m.d] = fmt.Sprintf("the worker panicked processing this message: %v", r)
			}
		}
	}()
	st, err := w.loadState(ctx, id)
	if err != nil {
		w.log.Warn("loading history failed", "instance", id, "err", err)
		p.trouble = true
		for _, m := range msgs {
			p.requeue = append(p.requeue, m.d)
		}
		return p
	}
	now := w.now()
	var incoming []history.Event
	var consumed []string
	for i, m := range msgs {
		ev := m.msg.Event
		if n, ok := st.consumedBy(m.d.ID); ok {
			p.republish = append(p.republish, st.outboxes[n]...)
			p.done = append(p.done, m.d)
			continue
		}
		if ev.Kind == history.ExecutionStarted {
			switch {
			case len(incoming) > 0:
				p.requeue = append(p.requeue, m.d) // start a new execution in a later episode
				continue
			case st == nil || st.acceptsStart():
				// The dispatcher has written the document of the execution it started.
				recorded := st != nil && st.started.Kind == "" && st.inst.ExecutionID == ev.ExecutionID
				st = freshState(id, st, ev, now)
				if !recorded {
					if err := w.writeExecutionDoc(ctx, st); err != nil {
						w.log.Warn("recording new execution failed", "instance", id, "err", err)
						for _, rest := range msgs[i:] {
							p.requeue = append(p.requeue, rest.d)
						}
						return p
					}
				}
			default:
				w.rejectStart(p, st, m, ev)
				continue
			}
		} else if st == nil {
			p.dead[m.d] = fmt.Sprintf("no instance %q: %s arrived before the instance was started", id, ev.Kind)
			continue
		} else if m.msg.ExecutionID != "" && m.msg.ExecutionID != st.inst.ExecutionID {
			if st.status == history.StatusContinuedAsNew {
				p.requeue = append(p.requeue, m.d) // for the next execution, not started yet
			} else {
				p.done = append(p.done, m.d) // for an execution that has ended
			}
			continue
		} else if st.finished() {
			if st.status == history.StatusContinuedAsNew {
				p.requeue = append(p.requeue, m.d)
			} else {
				p.done = append(p.done, m.d)
			}
			continue
		}
		if ev.Timestamp.IsZero() {
			ev.Timestamp = now
		}
		ev.MessageID = m.d.ID
		incoming = append(incoming, ev)
		consumed = append(consumed, m.d.ID)
		p.inputs = append(p.inputs, m.d)
	}
	if len(incoming) == 0 {
		if p.repair = st.staleEnd(); p.repair != nil {
			p.state = st
		}
		return p
	}
	res, err := w.exec.Execute(id, st.past, incoming, now)
	if err != nil {
		for _, d := range p.inputs {
			p.dead[d] = "orchestration could not run: " + err.Error()
		}
		p.inputs = nil
		return p
	}
	ec := st.episodeContext(res.NewEvents)
	outbox, err := buildOutbox(ec, res, w.newSpanID)
	if err != nil {
		for _, d := range p.inputs {
			p.dead[d] = "building outbox: " + err.Error()
		}
		p.inputs = nil
		return p
	}
	p.state = st
	p.episode = &history.Episode{
		InstanceID: id, ExecutionID: st.inst.ExecutionID, Number: st.episodes + 1,
		Events: res.NewEvents, Outbox: outbox, Consumed: consumed, CommittedAt: now,
	}
	p.result = &episodeOutcome{res: res, started: ec.started, now: now}
	return p
}

// rejectStart answers a start for an instance id that is already running another
// execution: a child's parent learns that its child failed; anything else is dead-lettered.
func (w *Worker) rejectStart(p *episodePlan, st *instanceState, m inbound, ev history.Event) {
	why := fmt.Sprintf("instance %q is already running (execution %s)", st.inst.InstanceID, st.inst.ExecutionID)
	if ev.Parent == nil {
		p.dead[m.d] = why
		return
	}
	notice := history.Event{Version: history.SchemaVersion, Kind: history.SubOrchestrationFailed,
		TaskID: ev.Parent.TaskID, InstanceID: st.inst.InstanceID,
		Failure: &history.Failure{Type: "InstanceExists", Message: why}}
	om, err := controlMessage(m.d.ID+"/rejected", ev.Parent.InstanceID, ev.Parent.ExecutionID, notice)
	if err != nil {
		p.dead[m.d] = why
		return
	}
	p.republish = append(p.republish, om)
	p.done = append(p.done, m.d)
}
