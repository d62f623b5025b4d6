package worker

import (
	"context"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/pause"
)

// retentionBatch is how many instances one purge call deletes. Between calls the sweep
// waits retentionRest times as long as the call took, and at least retentionPause, so that
// it keeps the store busy at most a tenth of the time, and it waits while this worker has
// control messages waiting: a backlog of old instances is purged a little at a time, and
// the episodes keep the store first (FerretDB on SQLite writes one statement at a time: a
// purge of 100 at once held the episodes' commits back for seconds).
const (
	retentionBatch = 10
	retentionRest  = 9
	retentionPause = time.Second
)

// retentionLoop purges, every RetentionInterval, the ended instances created more than
// Retention ago, with their histories, until ctx ends. One worker does it at a time: the
// owner of partition 0 (ownership moves with the fleet, and so does this chore), on a
// goroutine of its own, never on the episode loop.
func (w *Worker) retentionLoop(ctx context.Context) {
	tick(ctx, w.cfg.RetentionInterval, func() {
		if w.ownsPartition(0) && !w.troubled.Load() {
			w.purgeExpired(ctx)
		}
	})
}

// tick calls fn every d until ctx ends.
func tick(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// purgeExpired purges the expired instances in batches of retentionBatch, pausing between
// batches, until a batch finds fewer than it could take, the store fails or ctx ends. It
// returns how many it purged.
func (w *Worker) purgeExpired(ctx context.Context) int {
	total := 0
	for {
		for w.inbox.len() > 0 {
			if pause.For(ctx, retentionPause) != nil {
				return total
			}
		}
		f := history.PurgeFilter{CreatedTo: w.now().Add(-w.cfg.Retention), Limit: retentionBatch}
		pctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		began := time.Now()
		n, err := w.store.PurgeInstances(pctx, f)
		took := time.Since(began)
		cancel()
		total += n
		w.metrics.purged.Add(float64(n))
		if err != nil {
			if ctx.Err() == nil {
				w.metrics.storeError("purge")
				w.log.Warn("purging expired instances failed; will try again at the next sweep", "purged", total, "err", err)
			}
			return total
		}
		if n < retentionBatch || pause.For(ctx, max(retentionPause, retentionRest*took)) != nil {
			if total > 0 {
				w.log.Info("purged expired instances", "count", total, "retention", w.cfg.Retention)
			}
			return total
		}
	}
}

// ownsPartition reports whether this worker consumes partition p now.
func (w *Worker) ownsPartition(p int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.owned[p]
	return ok
}
