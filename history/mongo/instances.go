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
