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

// Liveness is judged by the server's clock alone: it stamps each heartbeat ($currentDate)
// and LiveWorkers compares against its time, so a worker whose clock is off neither stays
// live after it stops nor looks dead while it runs.

// Heartbeat writes the worker's record (an upsert by its id), stamped with the server's
// time; w.HeartbeatAt is ignored.
func (s *Store) Heartbeat(ctx context.Context, w history.WorkerInfo) error {
	if err := checkID("worker id", w.WorkerID); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "host", Value: w.Host},
			{Key: "orchestrators", Value: w.Orchestrators},
			{Key: "activities", Value: w.Activities},
			{Key: "startedAt", Value: w.StartedAt},
			{Key: "activityConcurrency", Value: w.ActivityConcurrency},
			{Key: "storeOps", Value: w.StoreOps},
			{Key: "schemaVersion", Value: w.SchemaVersion},
		}},
		{Key: "$currentDate", Value: bson.D{{Key: "heartbeatAt", Value: true}}},
	}
	doc, err := bson.Marshal(update)
	if err == nil {
		err = checkDocument(fmt.Sprintf("worker %q", w.WorkerID), doc, 0)
	}
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	filter := bson.D{{Key: "_id", Value: w.WorkerID}}
	_, err = s.workers.UpdateOne(ctx, filter, doc, options.Update().SetUpsert(true))
	if mongodrv.IsDuplicateKeyError(err) {
		// Two upserts of a new id raced and both tried to insert; the record exists now.
		_, err = s.workers.UpdateOne(ctx, filter, doc, options.Update().SetUpsert(true))
	}
	if err != nil {
		return writeError(fmt.Sprintf("heartbeat of worker %q", w.WorkerID), err)
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

// LiveWorkers returns the workers whose last heartbeat is newer than the server's time
// less maxAge, by id. maxAge covers the heartbeat period and the delays of the heartbeats'
// round trips, not the skew between the workers' clocks, which plays no part.
func (s *Store) LiveWorkers(ctx context.Context, maxAge time.Duration) ([]history.WorkerInfo, error) {
	if maxAge <= 0 {
		return nil, fmt.Errorf("live workers: %w: max age %s must be positive", ErrInvalidArgument, maxAge)
	}
	now, err := s.serverTime(ctx)
	if err != nil {
		return nil, fmt.Errorf("live workers: %w", err)
	}
	cur, err := s.workers.Find(ctx,
		bson.D{{Key: "heartbeatAt", Value: bson.D{{Key: "$gt", Value: now.Add(-maxAge)}}}},
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

// serverTime asks the server for its clock: the localTime of the hello command, which
// MongoDB and FerretDB both report (the same clock $currentDate uses).
func (s *Store) serverTime(ctx context.Context) (time.Time, error) {
	var hello struct {
		LocalTime time.Time `bson:"localTime"`
	}
	if err := s.db.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return time.Time{}, fmt.Errorf("read the server's time: %w", err)
	}
	if hello.LocalTime.IsZero() {
		return time.Time{}, fmt.Errorf("read the server's time: hello reported no localTime")
	}
	return hello.LocalTime, nil
}
