package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/warrenhq/warren/history"
)

// Heartbeat stores the worker's record stamped with the store's clock (Options.Now);
// w.HeartbeatAt is ignored, as history/mongo ignores it.
func (s *Store) Heartbeat(ctx context.Context, w history.WorkerInfo) error {
	// Refuse a bad record before the fault and the clock; a time's encoding is 8 bytes
	// whatever the time, so the check holds for the stamped record too.
	if _, err := encodeWorker(w, time.Time{}); err != nil {
		return fmt.Errorf("memstore: heartbeat: %w", err)
	}
	return exec(ctx, s, Op{Kind: OpHeartbeat, WorkerID: w.WorkerID}, func() error {
		doc, err := encodeWorker(w, s.opts.Now())
		if err != nil {
			return fmt.Errorf("memstore: heartbeat: %w", err)
		}
		s.workers[w.WorkerID] = doc
		return nil
	})
}

// RemoveWorker deletes the worker's record; removing an unknown worker is not an error.
func (s *Store) RemoveWorker(ctx context.Context, workerID string) error {
	if err := checkID("worker id", workerID); err != nil {
		return fmt.Errorf("memstore: remove worker: %w", err)
	}
	return exec(ctx, s, Op{Kind: OpRemoveWorker, WorkerID: workerID}, func() error {
		delete(s.workers, workerID)
		return nil
	})
}

// LiveWorkers returns, by id, the workers whose last heartbeat is newer than the store's
// time less maxAge.
func (s *Store) LiveWorkers(ctx context.Context, maxAge time.Duration) ([]history.WorkerInfo, error) {
	if maxAge <= 0 {
		return nil, fmt.Errorf("memstore: live workers: %w: max age %s must be positive", history.ErrInvalidArgument, maxAge)
	}
	return run(ctx, s, Op{Kind: OpLiveWorkers}, func() ([]history.WorkerInfo, error) {
		since := millis(s.opts.Now().Add(-maxAge))
		var live []history.WorkerInfo
		for _, id := range slices.Sorted(maps.Keys(s.workers)) {
			w := decode[history.WorkerInfo](s.workers[id], defaultRegistry)
			if w.HeartbeatAt.After(since) {
				live = append(live, *w)
			}
		}
		return live, nil
	})
}
