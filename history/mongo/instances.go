package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	mongodrv "go.mongodb.org/mongo-driver/mongo"

	"github.com/warrenhq/warren/history"
)

// Instance documents keep their times as BSON datetimes, which hold milliseconds: list
// queries filter and sort on createdAt. A time read back is the written one truncated to the
// millisecond, in UTC.

func checkInstance(inst *history.Instance) error {
	if inst == nil {
		return fmt.Errorf("%w: nil instance", ErrInvalidArgument)
	}
	if err := checkID("instance id", inst.InstanceID); err != nil {
		return err
	}
	if inst.Status == "" {
		return fmt.Errorf("%w: instance %q has no status", ErrInvalidArgument, inst.InstanceID)
	}
	return nil
}

// CreateInstance inserts a new instance; the _id is the instance id, so a second create of
// the same id fails with history.ErrInstanceExists.
func (s *Store) CreateInstance(ctx context.Context, inst *history.Instance) error {
	if err := checkInstance(inst); err != nil {
		return fmt.Errorf("create instance: %w", err)
	}
	if _, err := s.instances.InsertOne(ctx, inst); err != nil {
		if mongodrv.IsDuplicateKeyError(err) {
			return fmt.Errorf("create instance %q: %w", inst.InstanceID, history.ErrInstanceExists)
		}
		return fmt.Errorf("create instance %q: %w", inst.InstanceID, err)
	}
	return nil
}

// GetInstance reads one instance, or fails with history.ErrInstanceNotFound.
func (s *Store) GetInstance(ctx context.Context, instanceID string) (*history.Instance, error) {
	if err := checkID("instance id", instanceID); err != nil {
		return nil, fmt.Errorf("get instance: %w", err)
	}
	var inst history.Instance
	err := s.instances.FindOne(ctx, bson.D{{Key: "_id", Value: instanceID}}).Decode(&inst)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return nil, fmt.Errorf("get instance %q: %w", instanceID, history.ErrInstanceNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get instance %q: %w", instanceID, err)
	}
	return &inst, nil
}

// UpdateInstance replaces the instance document by its id (history.ErrInstanceNotFound when
// there is none). It is a blind replace: the worker that owns the instance's partition is
// its only writer.
func (s *Store) UpdateInstance(ctx context.Context, inst *history.Instance) error {
	if err := checkInstance(inst); err != nil {
		return fmt.Errorf("update instance: %w", err)
	}
	res, err := s.instances.ReplaceOne(ctx, bson.D{{Key: "_id", Value: inst.InstanceID}}, inst)
	if err != nil {
		return fmt.Errorf("update instance %q: %w", inst.InstanceID, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("update instance %q: %w", inst.InstanceID, history.ErrInstanceNotFound)
	}
	return nil
}

// Purge deletes a terminal instance with the history of all its executions. The history goes
// first, so a purge that fails half-way leaves the instance in place to be purged again.
func (s *Store) Purge(ctx context.Context, instanceID string) error {
	inst, err := s.GetInstance(ctx, instanceID)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	if !inst.Status.Terminal() {
		return fmt.Errorf("purge %q: status is %s: %w", instanceID, inst.Status, history.ErrNotTerminal)
	}
	if _, err := s.history.DeleteMany(ctx, bson.D{{Key: "instanceId", Value: instanceID}}); err != nil {
		return fmt.Errorf("purge %q: delete history: %w", instanceID, err)
	}
	// The status condition keeps an instance that was restarted in between.
	res, err := s.instances.DeleteOne(ctx, bson.D{
		{Key: "_id", Value: instanceID},
		{Key: "status", Value: bson.D{{Key: "$in", Value: terminalStatuses}}},
	})
	if err != nil {
		return fmt.Errorf("purge %q: delete instance: %w", instanceID, err)
	}
	if res.DeletedCount == 0 {
		// Another purge got there first, or the instance left its terminal state.
		if _, err := s.GetInstance(ctx, instanceID); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		return fmt.Errorf("purge %q: status changed during the purge: %w", instanceID, history.ErrNotTerminal)
	}
	return nil
}

var terminalStatuses = []history.Status{history.StatusCompleted, history.StatusFailed, history.StatusTerminated}
