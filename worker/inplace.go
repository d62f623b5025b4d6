package worker

import (
	"context"
	"sync/atomic"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// How the work item and the result of an activity run in place (eager.go) are settled:
// they are deliveries of this worker's own making, whose Ack, Nack and DeadLetter stand for
// what the broker would have done.

// eagerItem settles the work-item delivery an activity runs in place from.
type eagerItem struct {
	w     *Worker
	ch    *chain
	msg   history.OutboxMessage
	state atomic.Int32 // itemRunning, itemDone, itemHandedOff
	// fold is set while the run is part of an episode being folded (fold.go): its outcome
	// goes there, and its chain (ch) is set only if it outlasts the fold.
	fold *foldRun
}

const (
	itemRunning int32 = iota
	itemDone
	itemHandedOff
)

func (it *eagerItem) Ack() error { return nil } // its result settles it
func (it *eagerItem) Nack(bool) error {
	it.giveBack()
	return nil
}
func (it *eagerItem) DeadLetter(string) error {
	it.giveBack()
	return nil
}

// giveBack ends a run without a result: its work item goes to the queue.
func (it *eagerItem) giveBack() {
	if it.fold != nil {
		it.fold.report(foldOutcome{})
		return
	}
	it.w.handOff(it)
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
	if it.fold != nil {
		it.fold.report(foldOutcome{om: om, ok: true})
		return
	}
	w.putInPlace(ctx, it, om)
}

// putInPlace is deliverInPlace of a run that has a chain.
func (w *Worker) putInPlace(ctx context.Context, it *eagerItem, om history.OutboxMessage) {
	if !it.state.CompareAndSwap(itemRunning, itemDone) {
		return
	}
	r := &eagerResult{w: w, it: it, om: om}
	if r.Stale() {
		pctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		defer cancel()
		if err := w.publishOutbox(pctx, []history.OutboxMessage{om}); err != nil {
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
