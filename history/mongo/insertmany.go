package mongo

import (
	"context"
	"errors"
	"fmt"

	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// insertEach inserts docs into coll with one unordered insertMany, so that each is written
// or refused on its own. errs[j] is nil when docs[j] was written, wraps dup when its unique
// key was taken, and is another error otherwise (after a lost connection or a failed write
// concern it may or may not be written). name(j) says what docs[j] is in errors.
func insertEach(ctx context.Context, coll *mongodrv.Collection, docs []any, dup error, name func(j int) string) []error {
	errs := make([]error, len(docs))
	if len(docs) == 0 {
		return errs
	}
	_, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return errs
	}
	var bwe mongodrv.BulkWriteException
	if !errors.As(err, &bwe) || (len(bwe.WriteErrors) == 0 && bwe.WriteConcernError == nil) {
		for j := range docs {
			errs[j] = writeError(name(j), err)
		}
		return errs
	}
	for _, we := range bwe.WriteErrors {
		if we.Index < 0 || we.Index >= len(docs) {
			// A server that reports an index it was never sent: nothing can be trusted.
			for j := range docs {
				errs[j] = fmt.Errorf("%s: write error for unknown index %d: %w", name(j), we.Index, err)
			}
			return errs
		}
		if we.Code == duplicateKeyCode {
			errs[we.Index] = fmt.Errorf("%s: %w", name(we.Index), dup)
		} else {
			errs[we.Index] = writeError(name(we.Index), we)
		}
	}
	if bwe.WriteConcernError != nil {
		for j := range docs {
			if errs[j] == nil {
				errs[j] = fmt.Errorf("%s: written, but the write concern failed: %w", name(j), bwe.WriteConcernError)
			}
		}
	}
	return errs
}
