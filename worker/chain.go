package worker

import (
	"slices"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// The chains of activities run in place (eager.go): what each instance's runs keep
// unacked, when a chain lives, and what it does when it ends or dies.

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

// chainCount is the number of chains alive. The dead ones (an anchor's channel is gone,
// so the broker has given the anchors to another consumer) are dropped on the way: nothing
// of theirs is left to finish, and a drain waiting for them would wait for nothing.
func (w *Worker) chainCount() int {
	e := w.eager
	e.mu.Lock()
	defer w.eagerUnlock()
	n := 0
	for id, ch := range e.chains {
		if e.live(id, ch.epoch) != nil {
			n++
		}
	}
	return n
}

// awaitChains waits, at most d, until no activity runs in place.
func (w *Worker) awaitChains(d time.Duration) {
	deadline := time.Now().Add(d)
	for w.chainCount() > 0 && time.Now().Before(deadline) {
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
