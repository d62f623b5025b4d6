package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/history"
)

// UpdateInstances writes the read-model fields of many documents with unordered update
// commands of up to maxUpdatesPerCommand conditional updates (each one applies unless the
// stored version is newer, or the stored document is of another incarnation: it was created
// at another time). When every update of a command matched, that is the whole
// cost; otherwise one find reads its documents back to tell, for each, whether it is
// written, newer or missing.
func (s *Store) UpdateInstances(ctx context.Context, docs []*history.Instance) []error {
	errs := make([]error, len(docs))
	models := make([]mongodrv.WriteModel, 0, len(docs))
	sent := make([]int, 0, len(docs)) // sent[j] is the index in docs of models[j]
	for i, inst := range docs {
		if _, err := encodeInstance(inst, s.writerID); err != nil {
			errs[i] = fmt.Errorf("update instances: %w", err)
			continue
		}
		update, err := readModelUpdate(inst, s.writerID)
		if err != nil {
			errs[i] = fmt.Errorf("update instances: %w", err)
			continue
		}
		filter := append(notNewerThan(inst), bson.E{Key: "createdAt", Value: inst.CreatedAt})
		models = append(models, mongodrv.NewUpdateOneModel().SetFilter(filter).SetUpdate(update))
		sent = append(sent, i)
	}
	if len(models) == 0 {
		return errs
	}
	chunks := (len(models) + maxUpdatesPerCommand - 1) / maxUpdatesPerCommand
	_ = eachKeyed(ctx, chunks, func(ctx context.Context, i int) error {
		start := i * maxUpdatesPerCommand
		end := min(start+maxUpdatesPerCommand, len(models))
		s.updateChunk(ctx, docs, models[start:end], sent[start:end], errs) // each chunk its own errs
		return nil
	})
	return errs
}

// maxUpdatesPerCommand bounds the statements of one update command, of which one
// UpdateInstances has keyedReadsInFlight in flight. FerretDB v1.24 on PostgreSQL runs the
// statements of a command one after another (each a select, then a transaction of its
// own: four round trips to PostgreSQL) and holds one database connection per statement
// until the whole command is done, plus one to write each document: two workers sending 25
// statements at once exhausted its pool of 50 and hung it for good. Commands of ten, one at
// a time, held up to eleven connections a worker and wrote one document at a time: under
// load the documents fell seconds behind their ends. Commands of two, four at a time, hold
// up to twelve and write four at a time.
const maxUpdatesPerCommand = 2

// updateChunk sends one update command and sets errs for its documents.
func (s *Store) updateChunk(ctx context.Context, docs []*history.Instance, models []mongodrv.WriteModel, sent []int, errs []error) {
	res, err := s.instances.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	if err == nil && res.MatchedCount == int64(len(models)) {
		return
	}
	var bwe mongodrv.BulkWriteException
	if err != nil && !errors.As(err, &bwe) {
		for _, i := range sent {
			errs[i] = writeError(fmt.Sprintf("update instance %q", docs[i].InstanceID), err)
		}
		return
	}
	s.readBack(ctx, docs, sent, errs)
}

// readBack sets errs for the documents of a bulk update that did not all match: a stored
// version at least as new as ours is written (ours, or one since), a newer one is
// ErrStaleInstance, a missing one or one of another incarnation ErrInstanceNotFound, an
// older one an error to try again.
func (s *Store) readBack(ctx context.Context, docs []*history.Instance, sent []int, errs []error) {
	ids := make([]string, len(sent))
	for j, i := range sent {
		ids[j] = docs[i].InstanceID
	}
	stored, err := s.GetInstances(ctx, ids)
	for _, i := range sent {
		inst := docs[i]
		op := fmt.Sprintf("update instance %q", inst.InstanceID)
		st, ok := stored[inst.InstanceID]
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("%s: read back: %w", op, err)
		case !ok:
			errs[i] = fmt.Errorf("%s: %w", op, history.ErrInstanceNotFound)
		case !history.SameIncarnation(st, inst):
			errs[i] = fmt.Errorf("%s created at %s: the stored one was created at %s: %w", op,
				inst.CreatedAt.Format(time.RFC3339Nano), st.CreatedAt.Format(time.RFC3339Nano), history.ErrInstanceNotFound)
		case st.Newer(inst):
			errs[i] = fmt.Errorf("%s: stored version (execution %d, episode %d, %s) is newer: %w",
				op, st.Executions, st.LastEpisode, st.Status, history.ErrStaleInstance)
		case inst.Newer(st):
			errs[i] = fmt.Errorf("%s: the stored document is still older than ours; write it again", op)
		}
	}
}

// readModelUpdate sets inst's read-model fields and the writer, and unsets those it has
// not (an output, failure or custom status of an earlier version must not linger).
func readModelUpdate(inst *history.Instance, writer string) (bson.D, error) {
	set, err := bson.Marshal(inst.ReadModel())
	if err != nil {
		return nil, fmt.Errorf("%w: instance %q cannot be encoded: %v", ErrInvalidArgument, inst.InstanceID, err)
	}
	setDoc := bson.D{}
	if err := bson.Unmarshal(set, &setDoc); err != nil {
		return nil, err
	}
	setDoc = append(setDoc, bson.E{Key: "writer", Value: writer})
	unset := bson.D{}
	for _, f := range []struct {
		name    string
		missing bool
	}{{"output", inst.Output == nil}, {"failure", inst.Failure == nil}, {"customStatus", inst.CustomStatus == nil}} {
		if f.missing {
			unset = append(unset, bson.E{Key: f.name, Value: ""})
		}
	}
	update := bson.D{{Key: "$set", Value: setDoc}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	return update, nil
}

// maxRefsPerQuery bounds the executions one LoadHistories query asks for.
const maxRefsPerQuery = 500

// LoadHistories returns the committed episodes of many executions, one query per
// maxRefsPerQuery of them, or one keyed query each where that is cheaper (keyed.go).
func (s *Store) LoadHistories(ctx context.Context, refs []history.ExecutionRef) (map[history.ExecutionRef][]history.Episode, error) {
	for _, r := range refs {
		if err := checkID("instance id", r.InstanceID); err != nil {
			return nil, fmt.Errorf("load histories: %w", err)
		}
		if err := checkID("execution id", r.ExecutionID); err != nil {
			return nil, fmt.Errorf("load histories of %q: %w", r.InstanceID, err)
		}
	}
	if s.keyedReads && len(refs) > 1 {
		return s.loadHistoriesKeyed(ctx, refs)
	}
	out := map[history.ExecutionRef][]history.Episode{}
	if len(refs) == 1 {
		// One execution: the plain query, which FerretDB filters in its database ($or it
		// does not: it would read the whole collection).
		eps, err := s.LoadHistory(ctx, refs[0].InstanceID, refs[0].ExecutionID)
		if err != nil {
			return nil, fmt.Errorf("load histories: %w", err)
		}
		if len(eps) > 0 {
			out[refs[0]] = eps
		}
		return out, nil
	}
	for start := 0; start < len(refs); start += maxRefsPerQuery {
		batch := refs[start:min(start+maxRefsPerQuery, len(refs))]
		or := make(bson.A, len(batch))
		for i, r := range batch {
			or[i] = bson.D{{Key: "instanceId", Value: r.InstanceID}, {Key: "executionId", Value: r.ExecutionID}}
		}
		cur, err := s.history.Find(ctx, bson.D{{Key: "$or", Value: or}}, options.Find().SetSort(bson.D{{Key: "number", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("load histories of %d executions: %w", len(batch), err)
		}
		var eps []history.Episode
		if err := cur.All(ctx, &eps); err != nil {
			return nil, fmt.Errorf("load histories of %d executions: %w", len(batch), err)
		}
		if err := history.InlineEpisodes(ctx, s, eps); err != nil {
			return nil, fmt.Errorf("load histories of %d executions: %w", len(batch), err)
		}
		for _, ep := range eps {
			r := history.ExecutionRef{InstanceID: ep.InstanceID, ExecutionID: ep.ExecutionID}
			out[r] = append(out[r], ep)
		}
	}
	return out, nil
}
