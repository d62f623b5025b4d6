package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// Activities run in place (docs/design.md section 12, "In place"). A work item an episode
// schedules would cross the broker twice: to the work-item queue, and back as its result to
// the instance's control queue. When the worker that committed the episode registers the
// activity and has a slot free, it runs the activity itself instead and puts the result
// straight into its own inbox, as if it had come from the broker: a hello sequence of five
// activities then sends one message where it sent eleven.
//
// Nothing durable is skipped, only the broker hops. The episode's outbox, work item
// included, is committed as always. What stands in for the unsent work item is the
// episode's own input: the worker keeps it unacked — an anchor — until every activity run
// in place since has its result committed. If the worker dies, the broker hands the anchor
// to the partition's next owner, where it is a redelivered input of a committed episode:
// that worker publishes the episode's outbox again and the outboxes of the chained episodes
// after it (those that consumed a result run in place, history.Episode.Chained), leaving
// out work items whose result history holds (resend.go). So a crash costs what it costs on
// the broker path: the activities in flight run again.

// eagerHold is how long an activity may run in place before it is handed to the work-item
// queue: the anchor it keeps unacked must not approach the broker's consumer timeout (30
// minutes on RabbitMQ 3.10), which would close the partition's channel.
const eagerHold = 2 * time.Minute

// eagerLeaveWait is how long a partition being given away stays with this worker while
// activities run in place for it: their chains finish (their next work items go to the
// queue) instead of running again at the next owner.
const eagerLeaveWait = 2 * time.Second

// chainedSchema is the first event schema whose workers know chained episodes: while a
// worker of an older one is live, it could take a partition from one that died mid-chain
// and resend only the first episode's outbox, so nothing runs in place.
const chainedSchema = 4

// errHandedOff is the cause of an in-place attempt's context ended by its hand-off.
var errHandedOff = errors.New("the activity ran longer than the in-place hold and was handed to the work-item queue")

// eager is the worker's bookkeeping of activities run in place.
type eager struct {
	slots chan struct{} // a token per activity running in place; nil: none run in place

	mu      sync.Mutex
	chains  map[string]*chain // by instance id
	leaving map[int]time.Time // partitions to give away, since when
	// orphans are the anchors of chains found dead that still hold a delivery of a live
	// channel: they go back to the queue (eagerUnlock) to be sent again from there.
	orphans []*queues.Delivery
	// slow holds the activities not folded into their episode until when (fold.go).
	slow map[string]time.Time
	// hold is eagerHold (tests shorten it).
	hold time.Duration
}

func newEager(n int) *eager {
	e := &eager{chains: map[string]*chain{}, leaving: map[int]time.Time{}, slow: map[string]time.Time{}, hold: eagerHold}
	if n > 0 {
		e.slots = make(chan struct{}, n)
	}
	return e
}

// inPlaceRun is an activity an episode of a batch runs in place.
type inPlaceRun struct {
	p   *episodePlan
	msg history.OutboxMessage
	// fold is set for a run begun while the episode was folded: it holds its slot already.
	fold *foldRun
}

// holdInPlace picks, among the work items of the committed episodes, those this worker runs
// in place: those already running since their episode was folded, and others for which a
// slot is free; the rest are published. An episode may run its work items in place when it
// has an input of the broker's to keep as an anchor, or its instance's chain is alive.
func (w *Worker) holdInPlace(plans []*episodePlan) (runs []inPlaceRun, held map[string]bool) {
	e := w.eager
	if e.slots == nil || w.draining.Load() || w.olderLive.Load() {
		return nil, nil
	}
	held = map[string]bool{}
	full := false
	for _, p := range plans {
		if p.episode == nil || p.result == nil || !w.mayChain(p) {
			continue
		}
		names := scheduledActivities(p.episode)
		running := p.fold.adoptable()
		for _, m := range p.episode.Outbox {
			if r := running[m.ID]; r != nil {
				r.adopted = true
				runs = append(runs, inPlaceRun{p: p, msg: m, fold: r})
				held[m.ID] = true
				continue
			}
			if full || m.Kind != history.MessageKindActivity || !w.registry.HasActivity(names[m.ID]) {
				continue
			}
			select {
			case e.slots <- struct{}{}:
				runs = append(runs, inPlaceRun{p: p, msg: m})
				held[m.ID] = true
			default:
				full = true
			}
		}
	}
	return runs, held
}

// mayChain reports whether p's work items may run in place: its partition is not being
// given away, and something stays unacked for them (an input of the broker's, or the
// instance's live chain).
func (w *Worker) mayChain(p *episodePlan) bool {
	e := w.eager
	e.mu.Lock()
	defer w.eagerUnlock()
	if !w.steadyLocked(p) {
		return false
	}
	if e.live(p.id, p.epoch) != nil {
		return true
	}
	for _, d := range p.inputs {
		if !isInPlace(d) {
			return true
		}
	}
	return false
}

// partitionSteady reports whether p's partition is neither being given away nor changed
// hands since p's batch began.
func (w *Worker) partitionSteady(p *episodePlan) bool {
	w.eager.mu.Lock()
	defer w.eager.mu.Unlock()
	return w.steadyLocked(p)
}

func (w *Worker) steadyLocked(p *episodePlan) bool {
	part := queues.PartitionOf(p.id, w.cfg.Partitions)
	_, leaving := w.eager.leaving[part]
	return !leaving && w.epochs[part].Load() == p.epoch
}

// releaseSlots gives back n slots taken for runs that will not start.
func (w *Worker) releaseSlots(n int) {
	for range n {
		<-w.eager.slots
	}
}

// unhold lets go of runs picked by holdInPlace that will not go on in place: the slots of
// those not begun are given back, those begun while folding are cancelled.
func (w *Worker) unhold(runs []inPlaceRun) {
	for _, r := range runs {
		if r.fold != nil {
			r.fold.adopted = false
			r.fold.cancel(errNotFolded)
			continue
		}
		<-w.eager.slots
	}
}

// startInPlace begins the runs picked by holdInPlace once the batch's other messages are
// confirmed: each episode's inputs of the broker's join its instance's chain as anchors
// (taken out of the inputs acked now), and each work item is run.
func (w *Worker) startInPlace(runs []inPlaceRun) {
	if len(runs) == 0 {
		return
	}
	e := w.eager
	var items []*eagerItem
	var adopted []*foldRun
	var late []inPlaceRun // their chain died since holdInPlace, leaving nothing to anchor them
	e.mu.Lock()
	for _, r := range runs {
		ch := e.live(r.p.id, r.p.epoch)
		if ch == nil {
			ch = &chain{id: r.p.id, partition: queues.PartitionOf(r.p.id, w.cfg.Partitions), epoch: r.p.epoch, pending: map[string]bool{}}
		}
		kept := r.p.inputs[:0]
		for _, d := range r.p.inputs {
			if isInPlace(d) {
				kept = append(kept, d) // acked now: it settles the run it came from
			} else {
				ch.anchors = append(ch.anchors, d)
			}
		}
		r.p.inputs = kept
		if len(ch.anchors) == 0 {
			late = append(late, r)
			continue
		}
		e.chains[r.p.id] = ch
		r.p.unsent = true
		ch.pending[r.msg.ID] = true
		if r.fold != nil {
			r.fold.it.ch = ch
			adopted = append(adopted, r.fold)
			continue
		}
		items = append(items, &eagerItem{w: w, ch: ch, msg: r.msg})
	}
	w.eagerUnlock()
	w.publishLate(late)
	for _, r := range adopted {
		if w.stepped {
			w.adopt(r)
			continue
		}
		w.active.Add(1)
		go func() {
			defer w.active.Done()
			w.adopt(r)
		}()
	}
	w.metrics.inPlace.Add(float64(len(items)))
	for _, it := range items {
		d := queues.NewDelivery(toQueueMessage(it.msg), queues.WorkItemQueue(w.cfg.Hub), false, 1, it)
		if w.stepped {
			w.stepItems = append(w.stepItems, d)
			continue
		}
		w.active.Add(1)
		w.inFlight.Add(1)
		go func() {
			defer w.active.Done()
			defer w.inFlight.Add(-1)
			defer func() { <-e.slots }()
			w.runHeld(d, it)
		}()
	}
}

// publishLate sends the work items of runs whose chain died before they began, as the
// batch's publish would have; if that fails, their episodes' inputs stay with the worker,
// marked redelivered, and send the outboxes again from there.
func (w *Worker) publishLate(late []inPlaceRun) {
	if len(late) == 0 {
		return
	}
	w.unhold(late)
	out := make([]history.OutboxMessage, len(late))
	for i, r := range late {
		out[i] = r.msg
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.OpTimeout)
	defer cancel()
	if err := w.publishOutbox(ctx, out); err != nil {
		w.log.Warn("publishing work items failed; their episodes' inputs will be redelivered", "err", err)
		for _, r := range late {
			r.p.trouble, r.p.unsent = true, true
			r.p.retry = append(r.p.retry, r.p.inputs...)
			r.p.inputs = nil
		}
	}
}

// runHeld runs an activity in place, handing it to the work-item queue if it outlasts
// eagerHold.
func (w *Worker) runHeld(d *queues.Delivery, it *eagerItem) {
	base := w.work
	if base == nil {
		base = context.Background()
	}
	ctx, cancel := context.WithCancelCause(base)
	defer cancel(nil)
	t := time.AfterFunc(w.eager.hold, func() {
		if w.handOff(it) {
			cancel(errHandedOff)
		}
	})
	defer t.Stop()
	w.runActivity(ctx, d)
}

// scheduledActivities maps the ids of the work items an episode sends to the activities
// they ask for, from its TaskScheduled events (no work item's body is decoded for it).
func scheduledActivities(ep *history.Episode) map[string]string {
	return scheduledNames(ep.InstanceID, ep.ExecutionID, ep.Events)
}

// scheduledNames maps the ids of the work items the TaskScheduled events among events ask
// for to their activities' names.
func scheduledNames(instanceID, executionID string, events []history.Event) map[string]string {
	names := map[string]string{}
	for _, ev := range events {
		if ev.Kind == history.TaskScheduled {
			names[workItemID(instanceID, executionID, ev.TaskID)] = ev.Name
		}
	}
	return names
}
