package mongo

import (
	"context"
	"errors"
	"fmt"

	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/history"
)

// CreateInstances inserts the new instances with one unordered insertMany, so that each
// is created or refused on its own: errs[i] wraps history.ErrInstanceExists when its id
// was taken, history.ErrInvalidArgument or history.ErrTooLarge when it was not sent, and
// is another error otherwise (then it may or may not have been created).
func (s *Store) CreateInstances(ctx context.Context, insts []*history.Instance) []error {
	errs := make([]error, len(insts))
	docs := make([]any, 0, len(insts))
	sent := make([]int, 0, len(insts)) // sent[j] is the index in insts of docs[j]
	for i, inst := range insts {
		doc, err := encodeInstance(inst, s.writerID)
		if err != nil {
			errs[i] = fmt.Errorf("create instance: %w", err)
			continue
		}
		docs = append(docs, doc)
		sent = append(sent, i)
	}
	if len(docs) == 0 {
		return errs
	}
	_, err := s.instances.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return errs
	}
	var bwe mongodrv.BulkWriteException
	if !errors.As(err, &bwe) || (len(bwe.WriteErrors) == 0 && bwe.WriteConcernError == nil) {
		for _, i := range sent {
			errs[i] = writeError(fmt.Sprintf("create instance %q", insts[i].InstanceID), err)
		}
		return errs
	}
	failed := make([]bool, len(docs))
	for _, we := range bwe.WriteErrors {
		if we.Index < 0 || we.Index >= len(docs) {
			// A server that reports an index it was never sent: nothing can be trusted.
			for _, i := range sent {
				errs[i] = fmt.Errorf("create instance %q: write error for unknown index %d: %w", insts[i].InstanceID, we.Index, err)
			}
			return errs
		}
		failed[we.Index] = true
		i := sent[we.Index]
		if we.Code == duplicateKeyCode {
			errs[i] = fmt.Errorf("create instance %q: %w", insts[i].InstanceID, history.ErrInstanceExists)
		} else {
			errs[i] = writeError(fmt.Sprintf("create instance %q", insts[i].InstanceID), we)
		}
	}
	if bwe.WriteConcernError != nil {
		for j, i := range sent {
			if !failed[j] {
				errs[i] = fmt.Errorf("create instance %q: written, but the write concern failed: %w", insts[i].InstanceID, bwe.WriteConcernError)
			}
		}
	}
	return errs
}
