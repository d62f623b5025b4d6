package mongo

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/history"
)

// purgeBatch is how many instances one batch of PurgeInstances deletes: few enough that
// each of its queries ($in lists of that length) stays small, as LoadHistories' do.
const purgeBatch = 500

// PurgeInstances deletes the ended instances that match f, and their histories, a batch at a
// time, in Purge's order for each batch, with four or five round trips per batch:
//
//  1. find a page of matching ids (the status among f's terminal ones);
//  2. list the executions that have history for those ids (one query, only the two ids);
//  3. delete the documents of those ids that are still in one of those statuses;
//  4. if fewer were deleted than found (an instance restarted meanwhile), find which are
//     still there and leave their history alone;
//  5. delete the history of the listed executions of the deleted instances.
//
// An execution that begins after step 2 is not listed; one that began before it had already
// made its document non-terminal, so step 3 leaves that instance. A batch that fails after
// step 3 leaves history no document points to; it does no harm, and a later purge of an
// instance with the same id deletes it (Purge lists every execution that has history).
func (s *Store) PurgeInstances(ctx context.Context, f history.PurgeFilter) (int, error) {
	statuses, err := f.PurgeStatuses()
	if err != nil {
		return 0, fmt.Errorf("purge instances: %w", err)
	}
	filter, err := listQuery(history.ListFilter{Statuses: statuses, Name: f.Name, CreatedFrom: f.CreatedFrom, CreatedTo: f.CreatedTo})
	if err != nil {
		return 0, fmt.Errorf("purge instances: %w", err)
	}
	purged := 0
	for f.Limit == 0 || purged < f.Limit {
		size := purgeBatch
		if f.Limit > 0 {
			size = min(size, f.Limit-purged)
		}
		found, n, err := s.purgeBatch(ctx, filter, statuses, size)
		purged += n
		if err != nil {
			return purged, fmt.Errorf("purge instances: %d purged so far: %w", purged, err)
		}
		if found < size {
			break
		}
	}
	return purged, nil
}

// purgeBatch purges up to size instances that match filter; it returns how many it found
// and how many it deleted.
func (s *Store) purgeBatch(ctx context.Context, filter bson.D, statuses []history.Status, size int) (found, deleted int, err error) {
	ids, err := s.instanceIDs(ctx, filter, options.Find().SetLimit(int64(size)))
	if err != nil || len(ids) == 0 {
		return 0, 0, err
	}
	executions, err := s.executionsOf(ctx, ids)
	if err != nil {
		return len(ids), 0, err
	}
	res, err := s.instances.DeleteMany(ctx, bson.D{
		{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}},
		{Key: "status", Value: bson.D{{Key: "$in", Value: statuses}}},
	})
	if err != nil {
		return len(ids), 0, fmt.Errorf("delete %d instances: %w", len(ids), err)
	}
	deleted = int(res.DeletedCount)
	if deleted < len(ids) {
		// Some left their terminal state (or were purged by another call) since the find;
		// a document that is still there keeps its history.
		left, err := s.instanceIDs(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, options.Find())
		if err != nil {
			return len(ids), deleted, fmt.Errorf("%d instances deleted, not yet their history: %w", deleted, err)
		}
		for _, id := range left {
			delete(executions, id)
		}
	}
	if len(executions) == 0 {
		return len(ids), deleted, nil
	}
	// Two lists rather than an $or of (instance, execution) pairs: FerretDB evaluates a
	// 500-branch $or about ten times slower. The two select the same episodes, since an
	// execution that begins after the listing has a new random id (a UUID from the
	// dispatcher, 64 random bits from a worker), never one listed for this batch.
	var instanceIDs, executionIDs bson.A
	for id, execs := range executions {
		instanceIDs = append(instanceIDs, id)
		for _, e := range execs {
			executionIDs = append(executionIDs, e)
		}
	}
	if _, err := s.history.DeleteMany(ctx, bson.D{
		{Key: "instanceId", Value: bson.D{{Key: "$in", Value: instanceIDs}}},
		{Key: "executionId", Value: bson.D{{Key: "$in", Value: executionIDs}}},
	}); err != nil {
		return len(ids), deleted, fmt.Errorf("%d instances deleted, not yet the history of their %d executions: %w", deleted, len(executionIDs), err)
	}
	if err := s.deletePayloads(ctx, instanceIDs, executionIDs); err != nil {
		return len(ids), deleted, fmt.Errorf("%d instances and their history deleted: %w", deleted, err)
	}
	return len(ids), deleted, nil
}

// instanceIDs returns the ids of the instance documents that match filter.
func (s *Store) instanceIDs(ctx context.Context, filter bson.D, opts *options.FindOptions) ([]string, error) {
	cur, err := s.instances.Find(ctx, filter, opts.SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find instances: %w", err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("find instances: %w", err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

// executionsOf lists, by instance id, the executions of those instances that have history.
func (s *Store) executionsOf(ctx context.Context, ids []string) (map[string][]string, error) {
	cur, err := s.history.Find(ctx, bson.D{{Key: "instanceId", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "instanceId", Value: 1}, {Key: "executionId", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list the executions of %d instances: %w", len(ids), err)
	}
	var refs []struct {
		InstanceID  string `bson:"instanceId"`
		ExecutionID string `bson:"executionId"`
	}
	if err := cur.All(ctx, &refs); err != nil {
		return nil, fmt.Errorf("list the executions of %d instances: %w", len(ids), err)
	}
	out := map[string][]string{}
	for _, r := range refs {
		if execs := out[r.InstanceID]; !slices.Contains(execs, r.ExecutionID) {
			out[r.InstanceID] = append(execs, r.ExecutionID)
		}
	}
	return out, nil
}
