package worker

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
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
}

func newEager(n int) *eager {
	e := &eager{chains: map[string]*chain{}, leaving: map[int]time.Time{}}
	if n > 0 {
		e.slots = make(chan struct{}, n)
	}
	return e
}

// chain is one instance's activities run in place and the inputs kept unacked for them.
type chain struct {
	id        string
	partition int
	epoch     int64
	anchors   []*queues.Delivery
	pending   map[string]bool // work item ids whose result is not committed yet
}

// live returns the instance's chain of the given epoch while it lives: a chain dies with
// the channel of any of its anchors (a dropped connection), since the broker has then
// given them to the partition's active consumer, which sends the work items again. A dead
// chain is dropped, and its anchors still on a live channel (copies of the same messages
// delivered again) become orphans. The caller holds e.mu and releases it with eagerUnlock.
func (e *eager) live(id string, epoch int64) *chain {
	ch, ok := e.chains[id]
	if !ok {
		return nil
	}
	if ch.epoch != epoch || slices.ContainsFunc(ch.anchors, (*queues.Delivery).Stale) {
		delete(e.chains, id)
		for _, d := range ch.anchors {
			if !d.Stale() {
				e.orphans = append(e.orphans, d)
			}
		}
		return nil
	}
	return ch
}

// eagerUnlock releases e.mu and sends the orphans found meanwhile back to their queue.
func (w *Worker) eagerUnlock() {
	e := w.eager
	orphans := e.orphans
	e.orphans = nil
	e.mu.Unlock()
	for _, d := range orphans {
		_ = d.Nack(true)
	}
}

// alive reports whether ch is its instance's live chain.
func (w *Worker) alive(ch *chain) bool {
	w.eager.mu.Lock()
	defer w.eagerUnlock()
	return w.eager.live(ch.id, ch.epoch) == ch
}

// eagerItem settles the work-item delivery an activity runs in place from.
type eagerItem struct {
	w     *Worker
	ch    *chain
	msg   history.OutboxMessage
	state atomic.Int32 // itemRunning, itemDone, itemHandedOff
}

const (
	itemRunning int32 = iota
	itemDone
	itemHandedOff
)

func (it *eagerItem) Ack() error { return nil } // its result settles it
func (it *eagerItem) Nack(bool) error {
	it.w.handOff(it)
	return nil
}
func (it *eagerItem) DeadLetter(string) error {
	it.w.handOff(it)
	return nil
}

// eagerResult settles an activity's result put in the inbox: acked, its chain learns the
// result is committed; sent back (nack, dead letter) it goes to the broker as a result sent
// the ordinary way would have.
type eagerResult struct {
	w  *Worker
	it *eagerItem
	om history.OutboxMessage
}

func (r *eagerResult) Ack() error {
	r.w.eagerSettled(r.it.ch, r.it.msg.ID)
	return nil
}
func (r *eagerResult) Nack(bool) error         { return r.toBroker() }
func (r *eagerResult) DeadLetter(string) error { return r.toBroker() }

// Stale reports that the result's chain died (its partition changed hands, or an anchor's
// channel closed): its anchors went back to the broker, and the partition's owner sends
// the work item again.
func (r *eagerResult) Stale() bool {
	return r.w.epochs[r.it.ch.partition].Load() != r.it.ch.epoch || !r.w.alive(r.it.ch)
}

func (r *eagerResult) toBroker() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.w.cfg.OpTimeout)
	defer cancel()
	if err := r.w.publishOutbox(ctx, []history.OutboxMessage{r.om}); err != nil {
		r.w.abandon(r.it.ch, "sending a result run in place to the broker failed: "+err.Error())
		return err
	}
	r.w.eagerSettled(r.it.ch, r.it.msg.ID)
	return nil
}

// isInPlace reports whether d is an activity's result put in the inbox by this worker.
func isInPlace(d *queues.Delivery) bool {
	_, ok := d.Settler().(*eagerResult)
	return ok
}

// inPlaceRun is an activity an episode of a batch runs in place.
type inPlaceRun struct {
	p   *episodePlan
	msg history.OutboxMessage
}

// holdInPlace picks, among the work items of the committed episodes, those this worker runs
// in place, taking a slot for each; the rest are published. An episode may run its work
// items in place when it has an input of the broker's to keep as an anchor, or its
// instance's chain is alive.
func (w *Worker) holdInPlace(plans []*episodePlan) (runs []inPlaceRun, held map[string]bool) {
	e := w.eager
	if e.slots == nil || w.draining.Load() || w.olderLive.Load() {
		return nil, nil
	}
	held = map[string]bool{}
	for _, p := range plans {
		if p.episode == nil || p.result == nil || !w.mayChain(p) {
			continue
		}
		for _, m := range p.episode.Outbox {
			if m.Kind != history.MessageKindActivity || !w.registry.HasActivity(activityName(m)) {
				continue
			}
			select {
			case e.slots <- struct{}{}:
			default:
				return runs, held
			}
			runs = append(runs, inPlaceRun{p: p, msg: m})
			held[m.ID] = true
		}
	}
	return runs, held
}

// mayChain reports whether p's work items may run in place: its partition is not being
// given away, and something stays unacked for them (an input of the broker's, or the
// instance's live chain).
func (w *Worker) mayChain(p *episodePlan) bool {
	part := queues.PartitionOf(p.id, w.cfg.Partitions)
	e := w.eager
	e.mu.Lock()
	defer w.eagerUnlock()
	if _, ok := e.leaving[part]; ok || w.epochs[part].Load() != p.epoch {
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

// releaseSlots gives back the slots of runs that will not start (their batch's publish failed).
func (w *Worker) releaseSlots(n int) {
	for range n {
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
		r.p.inPlace = true
		ch.pending[r.msg.ID] = true
		items = append(items, &eagerItem{w: w, ch: ch, msg: r.msg})
	}
	w.eagerUnlock()
	w.publishLate(late)
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
	w.releaseSlots(len(late))
	out := make([]history.OutboxMessage, len(late))
	for i, r := range late {
		out[i] = r.msg
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.OpTimeout)
	defer cancel()
	if err := w.publishOutbox(ctx, out); err != nil {
		w.log.Warn("publishing work items failed; their episodes' inputs will be redelivered", "err", err)
		for _, r := range late {
			r.p.trouble, r.p.inPlace = true, true // its outbox is not all sent
			r.p.retry = append(r.p.retry, r.p.inputs...)
			r.p.inputs = nil
		}
	}
}

// runHeld runs an activity in place, handing it to the work-item queue if it outlasts
// eagerHold.
func (w *Worker) runHeld(d *queues.Delivery, it *eagerItem) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	t := time.AfterFunc(eagerHold, func() {
		if w.handOff(it) {
			cancel(errHandedOff)
		}
	})
	defer t.Stop()
	w.runActivity(ctx, d)
}

// inPlaceItem returns the run d is the work item of, or nil for a work item of the broker's.
func inPlaceItem(d *queues.Delivery) *eagerItem {
	it, _ := d.Settler().(*eagerItem)
	return it
}

// deliverInPlace puts the result of an activity run in place into the inbox. A result whose
// run was handed off is dropped (the queued copy answers); one whose chain is gone (its
// partition changed hands, or it was abandoned) goes to the broker, best effort: the work
// item is sent again from the anchors anyway.
func (w *Worker) deliverInPlace(ctx context.Context, it *eagerItem, om history.OutboxMessage) {
	if !it.state.CompareAndSwap(itemRunning, itemDone) {
		return
	}
	r := &eagerResult{w: w, it: it, om: om}

	if r.Stale() {
		if err := w.publishOutbox(ctx, []history.OutboxMessage{om}); err != nil {
			w.log.Debug("a result run in place could not be sent; its work item is sent again by the partition's owner", "id", om.ID, "err", err)
		}
		return
	}
	w.inbox.put(queues.NewDelivery(toQueueMessage(om), queues.ControlQueue(w.cfg.Hub, it.ch.partition), false, 1, r))
}

// handOff sends a work item running in place to the work-item queue, where any worker runs
// it again: it ran too long, or its run could not go on (its input or result could not be
// read or stored). It reports whether the item was handed off (not finished before).
func (w *Worker) handOff(it *eagerItem) bool {
	if !it.state.CompareAndSwap(itemRunning, itemHandedOff) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.OpTimeout)
	defer cancel()
	if err := w.publishOutbox(ctx, []history.OutboxMessage{it.msg}); err != nil {
		w.abandon(it.ch, "handing a work item to the queue failed: "+err.Error())
		return true
	}
	w.eagerSettled(it.ch, it.msg.ID)
	return true
}

// eagerSettled notes that a run of ch no longer needs its anchors (its result is committed,
// or its work item is in the queue); the anchors are acked when no run needs them.
func (w *Worker) eagerSettled(ch *chain, workItemID string) {
	e := w.eager
	e.mu.Lock()
	delete(ch.pending, workItemID)
	var ack []*queues.Delivery
	if len(ch.pending) == 0 && e.chains[ch.id] == ch {
		delete(e.chains, ch.id)
		ack = ch.anchors
	}
	e.mu.Unlock()
	for _, d := range ack {

		_ = d.Ack()
	}
}

// abandon gives up a chain after a broker failure: its anchors go back to the queue, come
// back redelivered, and the instance's outboxes since are sent again from the store's
// history (the cached state, which knows them sent, is dropped).
func (w *Worker) abandon(ch *chain, why string) {
	e := w.eager
	e.mu.Lock()
	var back []*queues.Delivery
	if e.chains[ch.id] == ch {
		delete(e.chains, ch.id)
		back = ch.anchors
	}
	e.mu.Unlock()
	w.log.Warn("activities run in place given up; their work items are sent again", "instance", ch.id, "why", why)
	w.cache.drop(ch.id)
	for _, d := range back {
		_ = d.Nack(true)
	}
}

// forgetChains drops the chains of a partition given away: their anchors went back to the
// broker with its consumer.
func (w *Worker) forgetChains(p int) {
	e := w.eager
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, ch := range e.chains {
		if ch.partition == p {
			delete(e.chains, id)
		}
	}
	delete(e.leaving, p)
}

// keepWhileChained reports whether partition p, which this worker is to give away, stays a
// little longer: activities run in place for it, and it has been leaving for less than
// eagerLeaveWait. While it leaves, its episodes run nothing more in place.
func (w *Worker) keepWhileChained(p int, now time.Time) bool {
	e := w.eager
	e.mu.Lock()
	defer e.mu.Unlock()
	since, ok := e.leaving[p]
	if !ok {
		since = now
		e.leaving[p] = now
	}
	if now.Sub(since) >= eagerLeaveWait {
		return false
	}
	for _, ch := range e.chains {
		if ch.partition == p {
			return true
		}
	}
	return false
}

// stay notes that partition p is kept after all.
func (w *Worker) stay(p int) {
	w.eager.mu.Lock()
	delete(w.eager.leaving, p)
	w.eager.mu.Unlock()
}

// chainsIn counts the chains alive (all partitions when p < 0).
func (w *Worker) chainsIn(p int) int {
	e := w.eager
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ch := range e.chains {
		if p < 0 || ch.partition == p {
			n++
		}
	}
	return n
}

// activityName is the activity a work item asks for ("" when its body does not say).
func activityName(m history.OutboxMessage) string {
	var req struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(m.Body, &req)
	return req.Name
}

// awaitChains waits, at most d, until no activity runs in place.
func (w *Worker) awaitChains(d time.Duration) {
	deadline := time.Now().Add(d)
	for w.chainsIn(-1) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// notRunningHere leaves out of out the work items running in place here for the instance:
// a resend must not run them a second time while their result is on its way.
func (w *Worker) notRunningHere(id string, epoch int64, out []history.OutboxMessage) []history.OutboxMessage {
	w.eager.mu.Lock()
	defer w.eagerUnlock()
	ch := w.eager.live(id, epoch)
	if ch == nil {
		return out
	}
	kept := out[:0:0]
	for _, m := range out {
		if !ch.pending[m.ID] {
			kept = append(kept, m)
		}
	}
	return kept
}
