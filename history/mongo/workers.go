package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/history"
)

// Heartbeat writes the worker's record (an upsert by its id). A zero HeartbeatAt is taken
// as now.
func (s *Store) Heartbeat(ctx context.Context, w history.WorkerInfo) error {
	if err := checkID("worker id", w.WorkerID); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if w.HeartbeatAt.IsZero() {
		w.HeartbeatAt = time.Now().UTC()
	}
	filter := bson.D{{Key: "_id", Value: w.WorkerID}}
	_, err := s.workers.ReplaceOne(ctx, filter, w, options.Replace().SetUpsert(true))
	if mongodrv.IsDuplicateKeyError(err) {
		// Two upserts of a new id raced and both tried to insert; the record exists now.
		_, err = s.workers.ReplaceOne(ctx, filter, w, options.Replace().SetUpsert(true))
	}
	if err != nil {
		return fmt.Errorf("heartbeat of worker %q: %w", w.WorkerID, err)
	}
	return nil
}

// RemoveWorker deletes the worker's record, so the others take over its partitions at once.
// Removing a worker that has no record is not an error.
func (s *Store) RemoveWorker(ctx context.Context, workerID string) error {
	if err := checkID("worker id", workerID); err != nil {
		return fmt.Errorf("remove worker: %w", err)
	}
	if _, err := s.workers.DeleteOne(ctx, bson.D{{Key: "_id", Value: workerID}}); err != nil {
		return fmt.Errorf("remove worker %q: %w", workerID, err)
	}
	return nil
}

// LiveWorkers returns the workers whose last heartbeat is newer than now-maxAge, by id.
// The comparison uses this process's clock against the heartbeat times the workers wrote,
// so maxAge must cover the clock skew between machines as well as the heartbeat period.
func (s *Store) LiveWorkers(ctx context.Context, maxAge time.Duration) ([]history.WorkerInfo, error) {
	if maxAge <= 0 {
		return nil, fmt.Errorf("live workers: %w: max age %s must be positive", ErrInvalidArgument, maxAge)
	}
	since := time.Now().Add(-maxAge)
	cur, err := s.workers.Find(ctx,
		bson.D{{Key: "heartbeatAt", Value: bson.D{{Key: "$gt", Value: since}}}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("live workers: %w", err)
	}
	var ws []history.WorkerInfo
	if err := cur.All(ctx, &ws); err != nil {
		return nil, fmt.Errorf("live workers: %w", err)
	}
	return ws, nil
}
