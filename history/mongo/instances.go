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

// instanceDoc is an instance document as stored: the instance, and the Store that wrote it
// last, which readers decoding into a history.Instance do not see.
type instanceDoc struct {
	history.Instance `bson:",inline"`
	Writer           string `bson:"writer"`
}

// encodeInstance checks an instance and encodes it as its document, written by writer.
func encodeInstance(inst *history.Instance, writer string) (bson.Raw, error) {
	if inst == nil {
		return nil, fmt.Errorf("%w: nil instance", ErrInvalidArgument)
	}
	if err := checkID("instance id", inst.InstanceID); err != nil {
		return nil, err
	}
	if inst.Status == "" {
		return nil, fmt.Errorf("%w: instance %q has no status", ErrInvalidArgument, inst.InstanceID)
	}
	doc, err := bson.Marshal(instanceDoc{Instance: *inst, Writer: writer})
	if err != nil {
		return nil, fmt.Errorf("%w: instance %q cannot be encoded: %v", ErrInvalidArgument, inst.InstanceID, err)
	}
	if err := checkDocument(fmt.Sprintf("instance %q", inst.InstanceID), doc, writerFieldBytes(writer)); err != nil {
		return nil, err
	}
	return doc, nil
}

// writerFieldBytes is the size of the writer element in an instance document: type byte,
// key and NUL, string length, string and NUL.
func writerFieldBytes(writer string) int {
	return 1 + len("writer") + 1 + 4 + len(writer) + 1
}

// CreateInstance inserts a new instance; the _id is the instance id, so a second create of
// the same id fails with history.ErrInstanceExists.
func (s *Store) CreateInstance(ctx context.Context, inst *history.Instance) error {
	doc, err := encodeInstance(inst, s.writerID)
	if err != nil {
		return fmt.Errorf("create instance: %w", err)
	}
	if _, err := s.instances.InsertOne(ctx, doc); err != nil {
		if mongodrv.IsDuplicateKeyError(err) {
			return fmt.Errorf("create instance %q: %w", inst.InstanceID, history.ErrInstanceExists)
		}
		return writeError(fmt.Sprintf("create instance %q", inst.InstanceID), err)
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

// GetInstances reads the documents of ids with one $in query per maxRefsPerQuery of them,
// or one keyed query each where that is cheaper (keyed.go).
func (s *Store) GetInstances(ctx context.Context, ids []string) (map[string]*history.Instance, error) {
	for _, id := range ids {
		if err := checkID("instance id", id); err != nil {
			return nil, fmt.Errorf("get instances: %w", err)
		}
	}
	if s.keyedReads && len(ids) > 1 {
		return s.getInstancesKeyed(ctx, ids)
	}
	out := make(map[string]*history.Instance, len(ids))
	for start := 0; start < len(ids); start += maxRefsPerQuery {
		chunk := ids[start:min(start+maxRefsPerQuery, len(ids))]
		cur, err := s.instances.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}})
		if err != nil {
			return nil, fmt.Errorf("get %d instances: %w", len(chunk), err)
		}
		var page []history.Instance
		if err := cur.All(ctx, &page); err != nil {
			return nil, fmt.Errorf("get %d instances: %w", len(chunk), err)
		}
		for i := range page {
			out[page[i].InstanceID] = &page[i]
		}
	}
	return out, nil
}
