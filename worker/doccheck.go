package worker

import (
	"context"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/pause"
)

// A document write is conditional on the stored version, which MongoDB applies atomically
// and FerretDB does not: it reads the matching document, then writes it back. While a
// partition changes hands two workers may write one document, and the older version can
// land last — seen in CI: a child's Running document of episode 1, flushed by the worker
// that had just released its partition, landed over the new owner's Completed one, and the
// instance read Running for good. Only writes made while ownership moves are exposed: the
// old owner's documents of a partition it no longer holds (or that changed hands during the
// write), and repairs rebuilt from a history read, which are older than what the owner of
// the moment writes. Those are read back after a pause and compared with their history.

// Bounds of the pause between a checked write and its read-back: twice as long as the
// write took, so that a write of another worker already under way lands before it.
const (
	minCheckSettle = 2 * time.Millisecond
	maxCheckSettle = 250 * time.Millisecond
)

// checkDocs reads back documents just written and their histories, and owes again what an
// older write has undone: this worker's own version when the stored one is older than it,
// a repair when the stored one shows a status, output or failure its history has moved
// past. It reports whether the store failed; the documents then stay owed, to be checked.
func (w *Worker) checkDocs(ctx context.Context, docs []*owedDoc, took time.Duration) (trouble bool) {
	for _, o := range docs {
		// Announced when it was written; whatever of it is owed again is checked again.
		o.announce, o.check = false, true
	}
	giveBack := func() bool {
		for _, o := range docs {
			w.docs.giveBack(o)
		}
		return true
	}
	if pause.For(ctx, min(max(2*took, minCheckSettle), maxCheckSettle)) != nil {
		return giveBack()
	}
	ids := make([]string, len(docs))
	for i, o := range docs {
		ids[i] = o.doc.InstanceID
	}
	cctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	stored, err := w.store.GetInstances(cctx, ids)
	var hist map[history.ExecutionRef][]history.Episode
	if err == nil {
		refs := make([]history.ExecutionRef, 0, len(stored))
		for _, id := range ids {
			if s, ok := stored[id]; ok {
				refs = append(refs, history.ExecutionRef{InstanceID: id, ExecutionID: s.ExecutionID})
			}
		}
		hist, err = w.store.LoadHistories(cctx, refs)
	}
	if err != nil {
		w.metrics.storeError("check_instances")
		w.log.Warn("reading back instance documents failed; will write them again", "count", len(docs), "err", err)
		return giveBack()
	}
	now := w.now()
	for _, o := range docs {
		s, ok := stored[o.doc.InstanceID]
		if !ok {
			continue // purged since
		}
		if o.doc.Newer(s) {
			w.log.Info("an older instance document landed after this worker's; writing it again",
				"instance", s.InstanceID, "episode", o.doc.LastEpisode, "stored_episode", s.LastEpisode)
			w.docs.giveBack(o)
			continue
		}
		eps := hist[history.ExecutionRef{InstanceID: s.InstanceID, ExecutionID: s.ExecutionID}]
		if history.CheckEpisodes(eps) != nil {
			continue // written by a newer version: left to a newer worker
		}
		if fixed := history.Reconcile(s, eps); visibleChange(*s, *fixed) {
			w.log.Info("instance document behind its history after a write; repairing it",
				"instance", s.InstanceID, "status", s.Status, "history_status", fixed.Status)
			w.docs.oweRepair(*fixed, now)
		}
	}
	return false
}
