package worker

import (
	"context"
	"errors"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/queues"
)

// Activities folded into their episode (docs/design.md section 12, "Folded into their
// episode"). An activity run in place (eager.go) still costs an episode of its own: the next
// episode commits its result. When the activities an episode schedules are quick, the batch
// waits a little (Config.InPlaceWait) before committing: each activity starts as soon as
// the orchestrator has decided it, and once all of an episode's have reported, their results
// are applied at once, as the next round of the same episode, whose decisions may start
// more. A hello sequence of five activities commits one episode where it committed six.
//
// Nothing is acked or sent before the episode holding the results commits: a worker that
// dies first leaves its inputs unacked, and the next one replays them and runs the
// activities again, as after a crash mid-run on the queue path (at least once). Activities
// that have not reported when the wait ends are committed as scheduled, their work items in
// the outbox as always, and go on running as links of the instance's chain (eager.go), as
// if they had begun after the commit. Those whose episode did not commit, or may not chain,
// are cancelled, and their work items take the usual path.

// An activity that runs for slowWaits times a batch's wait is slow: it is not folded for
// foldSlow, since it would hold every batch it is in for the whole wait. (Outlasting the
// wait once is not enough: on a busy machine a quick activity may wait that long for a CPU.
// Nor is outlasting it a few folds in a row: under 100 hellos in flight on two cores their
// quick activity did, and a rule of three in a row stopped its folding, which tripled the
// episodes and halved the rate.)
const (
	slowWaits = 5
	foldSlow  = time.Minute
)

// Each round of an episode has InPlaceWait to report, counted from when its activities
// began, and a batch folds for at most foldWaits times InPlaceWait in all. A round that
// outlasts its wait ends the folding of its episode, so an activity slower than the wait
// holds a batch no longer than one wait; but quick rounds go on past the first wait, since
// on a busy machine a hello sequence's three rounds may together take longer than one (then
// a third of its episodes committed twice or more, in a run of 1,000 with 100 in flight).
const foldWaits = 3

// An episode folds at most foldRounds rounds and foldBytes of results and inputs: an
// orchestration that loops over a quick activity must still commit now and then, and its
// episode stay well within what the store keeps in one record.
const (
	foldRounds = 100
	foldBytes  = 1 << 20
)

// errNotFolded is the cause of a folded run's context ended because its episode did not
// commit, or its work item was sent to the queue instead.
var errNotFolded = errors.New("the episode that ran this activity in place did not keep it")

// folding is an episode being folded: what its next round needs.
type folding struct {
	st   *instanceState // the state the episode began from
	ec   episodeContext
	runs []*foldRun // the activities of its last round
	// rounds and bytes count what was folded so far (foldRounds, foldBytes), results the
	// results folded into ep, the episode as planned.
	rounds, bytes, results int
	ep                     *history.Episode
}

// foldRun is one activity an episode runs while it is being folded.
type foldRun struct {
	msg    history.OutboxMessage // its work item, as the outbox holds it
	name   string
	it     *eagerItem // its delivery's settler: it reports to out
	out    chan foldOutcome
	sent   bool         // the run has reported (its goroutine only)
	got    *foldOutcome // what it reported, once read
	began  time.Time
	cancel context.CancelCauseFunc
	// adopted is set when the run joins its instance's chain after the commit.
	adopted bool
}

// foldOutcome is what a folded run reports: its result message, or ok false when it gave
// its work item back without one (it could not read its input, or the worker died).
type foldOutcome struct {
	om history.OutboxMessage
	ok bool
}

// report sends the run's outcome, once.
func (r *foldRun) report(o foldOutcome) {
	if !r.sent {
		r.sent = true
		r.out <- o
	}
}

// foldable picks, among the work items of an episode's round, the activities to run now:
// registered here, small enough to go unchanged into the outbox, not found slow lately; a
// slot is taken for each. names maps work item ids to activity names.
func (w *Worker) foldable(p *episodePlan, outbox []history.OutboxMessage, names map[string]string) []history.OutboxMessage {
	e := w.eager
	if w.cfg.InPlaceWait <= 0 || e.slots == nil || w.draining.Load() || w.olderLive.Load() || !w.partitionSteady(p) {
		return nil
	}
	var out []history.OutboxMessage
	now := time.Now()
	for _, m := range outbox {
		name := names[m.ID]
		if m.Kind != history.MessageKindActivity || len(m.Body) > w.cfg.PayloadInlineMax ||
			!w.registry.HasActivity(name) || e.slowNow(name, now) {
			continue
		}
		select {
		case e.slots <- struct{}{}:
		default:
			return out
		}
		out = append(out, m)
	}
	return out
}

// startFolds begins the activities foldable picked for p's episode (from the state st, in
// the episode context ec); a stepped worker runs them to the end at once.
func (w *Worker) startFolds(p *episodePlan, st *instanceState, ec episodeContext, msgs []history.OutboxMessage, names map[string]string) {
	if len(msgs) == 0 {
		return
	}
	if p.fold == nil {
		p.fold = &folding{st: st, ec: ec, ep: p.episode}
	}
	base := w.work
	if base == nil {
		base = context.Background()
	}
	w.metrics.inPlace.Add(float64(len(msgs)))
	for _, m := range msgs {
		r := &foldRun{msg: m, name: names[m.ID], out: make(chan foldOutcome, 1), began: time.Now()}
		r.it = &eagerItem{w: w, msg: m, fold: r}
		p.fold.runs = append(p.fold.runs, r)
		d := queues.NewDelivery(toQueueMessage(m), queues.WorkItemQueue(w.cfg.Hub), false, 1, r.it)
		ctx, cancel := context.WithCancelCause(base)
		r.cancel = cancel
		run := func() {
			defer func() { <-w.eager.slots }()
			defer cancel(nil)
			w.runActivity(ctx, d)
			r.report(foldOutcome{}) // nothing reported: the worker died mid-run
		}
		if w.stepped {
			run()
			continue
		}
		slow := time.AfterFunc(slowWaits*w.cfg.InPlaceWait, func() { w.eager.markSlow(r.name, time.Now()) })
		w.active.Add(1)
		w.inFlight.Add(1)
		go func() {
			defer w.active.Done()
			defer w.inFlight.Add(-1)
			defer slow.Stop()
			run()
		}()
	}
}

// fold waits for the activities the batch's episodes run, each round up to InPlaceWait
// and all of them up to foldWaits times that from now, and folds each episode's round into
// it once all of them have reported, which may start the next round.
func (w *Worker) fold(plans []*episodePlan) {
	var folding []*episodePlan
	for _, p := range plans {
		if p.fold != nil && len(p.fold.runs) > 0 {
			folding = append(folding, p)
		}
	}
	if len(folding) == 0 {
		return
	}
	start := time.Now()
	if w.stepped {
		for _, p := range folding {
			w.foldRounds(p, start)
		}
		return
	}
	var wg sync.WaitGroup
	for _, p := range folding {
		wg.Go(func() { w.foldRounds(p, start) })
	}
	wg.Wait()
}

// foldRounds folds p's rounds, the batch's folding having begun at start, while every
// activity of the last one reports within its round's wait with a result that can be
// applied here. What is left in p.fold.runs is adopted after the commit (holdInPlace), or
// cancelled.
func (w *Worker) foldRounds(p *episodePlan, start time.Time) {
	f := p.fold
	defer func() {
		// The orchestrator's own panics fail its execution inside the executor; anything
		// else stops the folding, never the worker: the episode commits as it stands.
		if r := recover(); r != nil {
			w.log.Error("folding an episode panicked", logging.Instance(p.id, f.st.spanContext(), "panic", r, "stack", string(debug.Stack()))...)
		}
	}()
	for len(f.runs) > 0 && f.rounds < foldRounds && f.bytes < foldBytes {
		deadline := f.roundDeadline(start, w.cfg.InPlaceWait)
		if !w.stepped && !time.Now().Before(deadline) {
			return
		}
		if !f.waitAll(deadline) {
			return
		}
		var evs []history.Event
		for _, r := range f.runs {
			if !r.got.ok {
				continue // its work item stays in the outbox
			}
			ev, ok := w.foldEvent(r.got.om)
			if !ok {
				return // a result to read from the store: it reports through the chain
			}
			evs = append(evs, ev)
		}
		if len(evs) == 0 {
			f.runs = nil
			return
		}
		if !w.foldRound(p, evs) {
			return
		}
	}
}

// roundDeadline is when the last round's wait ends, the batch's folding having begun at
// start: wait after its activities began (after start, for the first round, begun while the
// batch was planned), and no later than foldWaits waits after start.
func (f *folding) roundDeadline(start time.Time, wait time.Duration) time.Time {
	began := start
	if len(f.runs) > 0 && f.runs[0].began.After(start) {
		began = f.runs[0].began
	}
	deadline, limit := began.Add(wait), start.Add(foldWaits*wait)
	if deadline.After(limit) {
		return limit
	}
	return deadline
}

// waitAll waits until every run of the last round has reported, or the deadline.
func (f *folding) waitAll(deadline time.Time) bool {
	var timer *time.Timer
	for _, r := range f.runs {
		if r.got != nil {
			continue
		}
		select {
		case o := <-r.out:
			r.got = &o
			continue
		default:
		}
		if timer == nil {
			d := time.Until(deadline)
			if d <= 0 {
				return false
			}
			timer = time.NewTimer(d)
			defer timer.Stop()
		}
		select {
		case o := <-r.out:
			r.got = &o
		case <-timer.C:
			return false
		}
	}
	return true
}

// foldEvent is the event a folded run's result message carries, unless it refers to a
// payload in the store (a large result), which the chain's path reads.
func (w *Worker) foldEvent(om history.OutboxMessage) (history.Event, bool) {
	m, err := decodeControl(om.Body, w.cfg.MaxMessageBytes)
	if err != nil || len(history.EventRefs(&m.Event)) > 0 {
		return history.Event{}, false
	}
	ev := m.Event
	ev.MessageID = om.ID
	return ev, true
}

// foldRound applies the results evs of the last round's runs to p's orchestrator, adds
// what it decides to the episode, and starts the activities of the new round. It reports
// false, changing nothing, when the round cannot be computed here: the results then come
// through the chain, and the error, if it is one, shows in the episode that applies them.
func (w *Worker) foldRound(p *episodePlan, evs []history.Event) bool {
	f, ep := p.fold, p.episode
	now := w.now()
	res, err := w.exec.Execute(p.id, slices.Concat(f.st.past, ep.Events), evs, now)
	if err != nil {
		return false
	}
	outbox, err := buildOutbox(f.ec, res, w.newSpanID)
	if err != nil {
		return false
	}
	names := scheduledNames(p.id, ep.ExecutionID, res.NewEvents)
	next := w.foldable(p, outbox, names)
	outbox, payloads, err := offloadOutbox(p.id, ep.ExecutionID, outbox, w.cfg.PayloadInlineMax)
	if err != nil {
		w.releaseSlots(len(next))
		return false
	}
	folded := map[string]bool{}
	for _, r := range f.runs {
		folded[r.msg.ID] = r.got.ok
	}
	ep.Outbox = append(slices.DeleteFunc(ep.Outbox, func(m history.OutboxMessage) bool { return folded[m.ID] }), outbox...)
	ep.Events = append(ep.Events, res.NewEvents...)
	f.rounds++
	for _, ev := range res.NewEvents {
		f.bytes += len(ev.Input) + len(ev.Result)
	}
	ep.Payloads = append(ep.Payloads, payloads...)
	for _, ev := range evs {
		ep.Consumed = append(ep.Consumed, ev.MessageID)
	}
	p.result.res, p.result.now = mergeResults(p.result.res, res), now
	f.results += len(evs)
	f.runs = nil
	w.startFolds(p, f.st, f.ec, next, names)
	return true
}

// mergeResults is the outcome of an episode of two rounds, a then b.
func mergeResults(a, b *durable.Result) *durable.Result {
	m := *b
	m.NewEvents = slices.Concat(a.NewEvents, b.NewEvents)
	m.Actions = slices.Concat(a.Actions, b.Actions)
	m.Finished = slices.Concat(a.Finished, b.Finished)
	m.CanceledTimers = slices.Concat(a.CanceledTimers, b.CanceledTimers)
	return &m
}

// folded is the number of results folded into p's episode if that is the episode
// committed (not a failure put in its place).
func (p *episodePlan) folded() int {
	if p.fold == nil || p.episode == nil || p.fold.ep != p.episode {
		return 0
	}
	return p.fold.results
}

// adoptable returns p's runs still waiting to report (or whose result could not be folded),
// by work item id.
func (f *folding) adoptable() map[string]*foldRun {
	if f == nil {
		return nil
	}
	out := map[string]*foldRun{}
	for _, r := range f.runs {
		if r.got == nil || r.got.ok {
			out[r.msg.ID] = r
		}
	}
	return out
}

// dropFolds cancels the runs of the batch's episodes that no chain adopted: their episode
// did not commit, or their work items went to the queue.
func dropFolds(plans []*episodePlan) {
	for _, p := range plans {
		if p.fold == nil {
			continue
		}
		for _, r := range p.fold.runs {
			if !r.adopted {
				r.cancel(errNotFolded)
			}
		}
		p.fold = nil
	}
}

// adopt carries a run its episode could not wait for on as a link of its chain (r.it.ch is
// set): its result goes into the inbox as a run begun after the commit would put it; a work
// item it gave back, or one that outlasts eagerHold, goes to the queue.
func (w *Worker) adopt(r *foldRun) {
	o := r.got
	if o == nil {
		t := time.NewTimer(w.eager.hold - time.Since(r.began))
		defer t.Stop()
		select {
		case got := <-r.out:
			o = &got
		case <-t.C:
			if w.handOff(r.it) {
				r.cancel(errHandedOff)
			}
			return
		}
	}
	if !o.ok {
		w.handOff(r.it)
		return
	}
	w.putInPlace(context.Background(), r.it, o.om)
}

// markSlow keeps name from being folded for foldSlow.
func (e *eager) markSlow(name string, now time.Time) {
	e.mu.Lock()
	e.slow[name] = now.Add(foldSlow)
	e.mu.Unlock()
}

// slowNow reports whether name was found slow in the last foldSlow.
func (e *eager) slowNow(name string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	until, ok := e.slow[name]
	if ok && now.After(until) {
		delete(e.slow, name)
		return false
	}
	return ok
}
