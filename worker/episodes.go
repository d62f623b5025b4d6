package worker

import (
	"context"
	"errors"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
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
	id      string
	state   *instanceState // the state the episode was computed from
	episode *history.Episode
	result  *episodeOutcome
	inputs  []*queues.Delivery // consumed by the episode: acked after commit
	done    []*queues.Delivery // redeliveries and stale messages: acked now
	// requeue goes back to the broker, for an execution or a start not begun yet, which
	// the broker holds behind them.
	requeue []*queues.Delivery
	// retry stays with this worker for its next batch (after a failure, or for a later
	// episode): unacked, so the broker neither counts a delivery nor lets another message
	// of the instance overtake them.
	retry     []*queues.Delivery
	dead      deadLetters             // dead-lettered with a reason
	republish []history.OutboxMessage // outboxes of episodes already committed
	// trouble marks a store or broker failure: the loop backs off before the next batch.
	trouble bool
	// repair is a document to write again: its execution ended but the stored one missed it.
	repair *history.Instance
	// epoch is the ownership epoch of the instance's partition when the batch began.
	epoch int64
	// incoming are the episode's input events, kept in case it must become a failure.
	incoming []history.Event
	// unsent is set when part of the episode's outbox was not published — work items run in
	// place (eager.go), or left out and not sent since — so it does not count as confirmed.
	unsent bool
	// resent lists the committed episodes whose outboxes this batch publishes again.
	resent []int64
	// deferred wait for a newer worker: the instance's history holds what this build cannot
	// read (versions.go).
	deferred []*queues.Delivery
	// fold is the episode's folding, while activities it runs in place may report into it
	// (fold.go).
	fold *folding
}

// deadLetters are the messages of a plan that go to the dead-letter queue, in order.
type deadLetters []deadLetter

// deadLetter is one message to dead-letter: reason is its class (a metric label), why the
// full explanation it carries.
type deadLetter struct {
	d      *queues.Delivery
	reason string
	why    string
}

func (l *deadLetters) add(d *queues.Delivery, reason, why string) {
	*l = append(*l, deadLetter{d, reason, why})
}

func (l deadLetters) has(d *queues.Delivery) bool {
	for _, dl := range l {
		if dl.d == d {
			return true
		}
	}
	return false
}

// crashed asks the simulation whether the worker dies at this point of the protocol.
func (w *Worker) crashed(point string) bool {
	if w.crashAt != nil && w.crashAt(point) {
		w.down.Store(true)
		return true
	}
	return false
}

// processBatch runs one episode per instance over a batch of control messages, commits them
// all in one round trip, publishes their outboxes, updates what readers see, and only then
// acks the inputs (docs/design.md section 4). It reports whether the store or the broker failed,
// so that the loop can back off instead of spinning on redeliveries.
func (w *Worker) processBatch(ctx context.Context, batch []*queues.Delivery) (trouble bool) {
	t0 := time.Now()
	groups, order, deferred := w.group(batch)
	plans := make([]*episodePlan, len(order))
	pctx, cancelPlans := planBudget(ctx)
	w.prefetch(pctx, order, groups)
	w.each(len(order), func(i int) { plans[i] = w.plan(pctx, order[i], groups[order[i]]) })
	cancelPlans()
	w.fold(plans)
	defer dropFolds(plans)
	for _, p := range plans {
		deferred = append(deferred, p.deferred...)
	}
	t1 := time.Now()
	if w.down.Load() || w.crashed("planned") {
		return false
	}

	// Commit every planned episode in one insertMany.
	var eps []*history.Episode
	var owners []*episodePlan
	for _, p := range plans {
		if p.episode != nil {
			eps = append(eps, p.episode)
			owners = append(owners, p)
		}
	}
	w.commit(ctx, eps, owners, true)
	t2 := time.Now()
	for _, p := range owners {
		if p.episode != nil {
			w.metrics.episodes.Inc()
			w.metrics.folded.Add(float64(p.folded()))
		}
	}
	if w.crashed("committed") {
		return false
	}

	// Publish outboxes (new and replayed) with confirms, but for the work items this worker
	// runs in place (eager.go).
	runs, held := w.holdInPlace(owners)
	var out []history.OutboxMessage
	for _, p := range plans {
		out = append(out, p.republish...)
		if p.episode != nil {
			for _, m := range p.episode.Outbox {
				if !held[m.ID] {
					out = append(out, m)
				}
			}
		}
	}
	published := true
	if err := w.publishOutbox(ctx, out); err != nil {
		published = false
		w.unhold(runs)
		// The episodes are committed: their inputs come back, as redeliveries, and their
		// outboxes are published again.
		w.log.Warn("publishing outbox failed; inputs will be redelivered", "err", err)
		for _, p := range plans {
			p.trouble = true
			p.retry = append(p.retry, p.inputs...)
			p.retry = append(p.retry, p.done...)
			p.inputs, p.done = nil, nil
		}
	}

	if published {
		w.startInPlace(runs)
	}
	t3 := time.Now()
	if w.crashed("published") {
		return false
	}
	w.updateInstances(ctx, plans, published)
	t4 := time.Now()
	if w.crashed("written") {
		return false
	}

	retry := w.deferToNewer(ctx, deferred)
	for _, d := range retry {
		d.Redelivered = true
	}
	trouble = len(retry) > 0
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
		for _, dl := range p.dead {
			w.deadLetter(dl.d, dl.reason, dl.why)
		}
		if len(p.requeue) > 0 {
			// Messages of the instance that arrived after these go back behind them, so
			// that the instance sees its messages in their order (an event never overtakes
			// the start it follows).
			p.requeue = append(p.requeue, w.inbox.takeInstance(p.id)...)
		}
		for _, d := range p.requeue {
			_ = d.Nack(true)
		}
		for _, d := range p.retry {
			d.Redelivered = true // handed over again: its episode's outbox may be unsent
			retry = append(retry, d)
		}
		trouble = trouble || p.trouble
		if w.crashed("acking") {
			return false
		}
	}
	w.inbox.putFront(retry)
	w.metrics.batchTook(t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), time.Since(t4))
	w.log.Debug("batch", "messages", len(batch), "instances", len(order), "episodes", len(eps),
		"plan", t1.Sub(t0), "commit", t2.Sub(t1), "publish", t3.Sub(t2), "update", t4.Sub(t3), "ack", time.Since(t4))
	return trouble
}

// planBudget gives planning — loading the states the cache lacks — half of what is left of
// the batch's time, so that a store slowed down (every instance of a batch missing the cache
// after a fault, each look-up a scan) cannot spend it all: the instances loaded in time
// commit their episodes with the other half, the rest go back to the inbox, and their loaded
// states stay cached for the next batch. Without it a batch that could not load everything in
// time committed nothing, and the next one began again from nothing.
func planBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(dl)/2)
}

// group decodes the batch and splits it by instance, keeping arrival order. What a newer
// version wrote, while a newer worker is live, is deferred for it, with the messages of its
// instance that follow (versions.go).
func (w *Worker) group(batch []*queues.Delivery) (groups map[string][]inbound, order []string, deferred []*queues.Delivery) {
	groups = map[string][]inbound{}
	now := w.now()
	for _, d := range batch {
		if isInPlace(d) && d.Stale() {
			continue // its chain died: the partition's owner sends its work item again
		}
		m, err := decodeControl(d.Body, w.cfg.MaxMessageBytes)
		switch {
		case err != nil && w.newerCanRead(err):
			if d.InstanceID != "" {
				w.blocked.block(d.InstanceID, now)
			}
			deferred = append(deferred, d)
			continue
		case errors.Is(err, history.ErrNewerVersion):
			w.deadLetter(d, deadNewerVersion, err.Error()+" (no live worker reads a newer schema: redrive it once one runs)")
			continue
		case err != nil:
			w.deadLetter(d, deadUndecodable, err.Error())
			continue
		case w.newerLive.Load() && w.blocked.blocked(m.InstanceID, now):
			deferred = append(deferred, d)
			continue
		}
		if _, ok := groups[m.InstanceID]; !ok {
			order = append(order, m.InstanceID)
		}
		groups[m.InstanceID] = append(groups[m.InstanceID], inbound{d: d, msg: m})
	}
	return groups, order, deferred
}

// commit inserts the planned episodes in one round trip. An episode that lost the race for
// its number is recomputed later from the store (its inputs come back); one that the store
// refuses for good (too large, invalid) becomes a failure of its execution, committed in a
// second round; if even that is refused, its inputs go to the dead-letter queue.
func (w *Worker) commit(ctx context.Context, eps []*history.Episode, owners []*episodePlan, again bool) {
	if len(eps) == 0 {
		return
	}
	var failedEps []*history.Episode
	var failedOwners []*episodePlan
	for i, err := range w.store.CommitEpisodes(ctx, eps) {
		if err == nil {
			continue
		}
		p := owners[i]
		switch {
		case permanent(err) && again:
			w.failEpisode(p, p.incoming, p.episode.Consumed, storeFailure(err), p.result.now)
			failedEps = append(failedEps, p.episode)
			failedOwners = append(failedOwners, p)
			continue
		case permanent(err):
			for _, d := range p.inputs {
				p.dead.add(d, deadStore, "the store refuses this instance's episodes: "+err.Error())
			}
			p.inputs = nil
		case errors.Is(err, history.ErrEpisodeConflict):
			w.log.Debug("episode conflict, will reload", logging.Instance(p.id, p.state.spanContext(), "episode", p.episode.Number)...)
			p.retry = append(p.retry, p.inputs...)
			p.inputs = nil
		default:
			w.metrics.storeError("commit_episodes")
			w.log.Warn("episode commit failed", logging.Instance(p.id, p.state.spanContext(), "err", err)...)
			p.trouble = true
			p.retry = append(p.retry, p.inputs...)
			p.inputs = nil
		}
		w.cache.drop(p.id)
		p.episode, p.result = nil, nil
	}
	w.commit(ctx, failedEps, failedOwners, false)
}

// deadLetter sends d to the dead-letter queue with why, counting it under reason.
func (w *Worker) deadLetter(d *queues.Delivery, reason, why string) {
	w.metrics.deadLettered(reason)
	err := d.DeadLetter(why)
	if err != nil {
		w.metrics.brokerError("dead_letter")
	}
	w.log.Warn("message dead-lettered", logging.Instance(d.InstanceID, deliverySpan(d), "kind", d.Kind, "reason", reason, "why", why, "err", err)...)
}
