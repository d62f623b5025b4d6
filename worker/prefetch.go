package worker

import (
	"context"

	"github.com/warrenhq/warren/history"
)

// prefetchAt is the fewest instances of a batch missing from the cache that are loaded
// together (see prefetch); fewer are loaded one by one, with the keyed queries that
// FerretDB on PostgreSQL answers inside its database rather than by reading a collection.
const prefetchAt = 4

// prefetch reads into the cache the states of the batch's instances that it lacks, with one
// query for their documents and one for their histories, before the episodes are planned.
// After a fault nearly every instance of a batch may be missing (a commit whose outcome was
// unknown dropped its state): loaded one by one, two look-ups each, on a store where every
// look-up reads a whole collection (FerretDB on SQLite), a batch of them outlasted its time,
// failed, and the next began again from nothing. Whatever fails here is left to plan, which
// loads the rest one by one as before; a start presumed new needs no state.
func (w *Worker) prefetch(ctx context.Context, order []string, groups map[string][]inbound) {
	var ids []string
	for _, id := range order {
		epoch := w.epochOf(id)
		if history.CheckInstanceID(id) != nil || w.cache.get(id, epoch) != nil || w.presumeNew(id, epoch, groups[id][0]) {
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) < prefetchAt {
		return
	}
	insts, err := w.store.GetInstances(ctx, ids)
	if err != nil {
		w.metrics.storeError("load_history")
		w.log.Warn("loading the batch's instances together failed; loading them one by one", "instances", len(ids), "err", err)
		return
	}
	refs := make([]history.ExecutionRef, 0, len(insts))
	for _, id := range ids {
		if inst := insts[id]; inst != nil {
			refs = append(refs, history.ExecutionRef{InstanceID: id, ExecutionID: inst.ExecutionID})
		}
	}
	hist, err := w.store.LoadHistories(ctx, refs)
	if err != nil {
		w.metrics.storeError("load_history")
		w.log.Warn("loading the batch's histories together failed; loading them one by one", "instances", len(refs), "err", err)
		return
	}
	for _, r := range refs {
		if history.CheckEpisodes(hist[r]) != nil {
			continue // a newer version wrote it: plan's own load says so
		}
		w.metrics.cacheMisses.Inc()
		w.cache.put(r.InstanceID, newState(*insts[r.InstanceID], hist[r]), w.epochOf(r.InstanceID))
	}
}
