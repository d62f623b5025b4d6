package mongo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/history"
)

// payloadDoc is one payload in the payloads collection: keyed by a digest of its ref, with
// the ref's fields for the queries (reads by key, purges by instance and execution).
type payloadDoc struct {
	Key         string `bson:"_id"`
	InstanceID  string `bson:"instanceId"`
	ExecutionID string `bson:"executionId"`
	ID          string `bson:"id"`
	Data        []byte `bson:"data"`
}

// payloadKey is the _id of ref's document: a digest, since the ids in a ref may hold any
// character but NUL and have no separator that cannot occur in them.
func payloadKey(ref history.PayloadRef) string {
	h := sha256.New()
	for _, s := range []string{ref.InstanceID, ref.ExecutionID, ref.ID} {
		_, _ = fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// PutPayloads writes the payloads with one unordered insertMany; one that exists already
// (the same ref is the same content) is not an error.
func (s *Store) PutPayloads(ctx context.Context, ps []history.Payload) error {
	if len(ps) == 0 {
		return nil
	}
	docs := make([]any, 0, len(ps))
	seen := map[string]bool{}
	for _, p := range ps {
		if err := checkID("instance id", p.Ref.InstanceID); err != nil {
			return fmt.Errorf("put payloads: %w", err)
		}
		if err := checkID("execution id", p.Ref.ExecutionID); err != nil {
			return fmt.Errorf("put payloads: %w", err)
		}
		key := payloadKey(p.Ref)
		if seen[key] {
			continue
		}
		seen[key] = true
		doc, err := bson.Marshal(payloadDoc{Key: key, InstanceID: p.Ref.InstanceID, ExecutionID: p.Ref.ExecutionID, ID: p.Ref.ID, Data: p.Data})
		if err != nil {
			return fmt.Errorf("put payloads: %w: %v", ErrInvalidArgument, err)
		}
		if err := checkDocument(fmt.Sprintf("payload of %q (%d bytes)", p.Ref.InstanceID, len(p.Data)), doc, 0); err != nil {
			return fmt.Errorf("put payloads: %w", err)
		}
		docs = append(docs, doc)
	}
	exists := errors.New("exists")
	for _, err := range insertEach(ctx, s.payloads, docs, exists, func(int) string { return "put payload" }) {
		if err != nil && !errors.Is(err, exists) {
			return err
		}
	}
	return nil
}

// GetPayloads reads payloads by ref in one query.
func (s *Store) GetPayloads(ctx context.Context, refs []history.PayloadRef) (map[history.PayloadRef][]byte, error) {
	out := map[history.PayloadRef][]byte{}
	if len(refs) == 0 {
		return out, nil
	}
	keys := bson.A{}
	for _, r := range refs {
		keys = append(keys, payloadKey(r))
	}
	cur, err := s.payloads.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}})
	if err != nil {
		return nil, fmt.Errorf("get payloads: %w", err)
	}
	var docs []payloadDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("get payloads: %w", err)
	}
	for _, d := range docs {
		out[history.PayloadRef{InstanceID: d.InstanceID, ExecutionID: d.ExecutionID, ID: d.ID}] = d.Data
	}
	for _, r := range refs {
		if _, ok := out[r]; !ok {
			return nil, fmt.Errorf("get payloads: %w: %s of %q/%s", history.ErrPayloadNotFound, r.ID, r.InstanceID, r.ExecutionID)
		}
	}
	return out, nil
}

// deletePayloads deletes the payloads of the executions of the instances (two lists, as
// the purges delete history).
func (s *Store) deletePayloads(ctx context.Context, instanceIDs, executionIDs bson.A) error {
	_, err := s.payloads.DeleteMany(ctx, bson.D{
		{Key: "instanceId", Value: bson.D{{Key: "$in", Value: instanceIDs}}},
		{Key: "executionId", Value: bson.D{{Key: "$in", Value: executionIDs}}},
	})
	if err != nil {
		return fmt.Errorf("delete payloads: %w", err)
	}
	return nil
}

// payloadIndex serves the purges' deletes.
var payloadIndex = mongodrv.IndexModel{Keys: bson.D{{Key: "instanceId", Value: 1}, {Key: "executionId", Value: 1}},
	Options: options.Index().SetName("payload_execution")}
