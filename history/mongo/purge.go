package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
)

var terminalStatuses = []history.Status{history.StatusCompleted, history.StatusFailed, history.StatusTerminated}

// Purge deletes a terminal instance with the history of its executions, in an order that
// cannot erase a new execution's history: it lists the executions that have history, then
// deletes the document only while it is terminal (a restarted instance is no longer), and
// only then the history of the listed executions. An execution that begins after the
// listing is not listed; one that began before it had already made the document
// non-terminal, so the delete finds nothing and the purge fails with
// history.ErrNotTerminal, having deleted nothing.
//
// A purge that fails after deleting the document leaves history no document points to;
// it does no harm, and the next purge of the same instance id deletes it.
func (s *Store) Purge(ctx context.Context, instanceID string) error {
	inst, err := s.GetInstance(ctx, instanceID)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	if !inst.Status.Terminal() {
		return fmt.Errorf("purge %q: status is %s: %w", instanceID, inst.Status, history.ErrNotTerminal)
	}
	executions, err := s.history.Distinct(ctx, "executionId", bson.D{{Key: "instanceId", Value: instanceID}})
	if err != nil {
		return fmt.Errorf("purge %q: list executions: %w", instanceID, err)
	}
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
	if len(executions) == 0 {
		return nil
	}
	_, err = s.history.DeleteMany(ctx, bson.D{
		{Key: "instanceId", Value: instanceID},
		{Key: "executionId", Value: bson.D{{Key: "$in", Value: executions}}},
	})
	if err != nil {
		return fmt.Errorf("purge %q: instance deleted, but not the history of its executions %v: %w", instanceID, executions, err)
	}
	if err := s.deletePayloads(ctx, bson.A{instanceID}, executions); err != nil {
		return fmt.Errorf("purge %q: instance and history deleted: %w", instanceID, err)
	}
	return nil
}
