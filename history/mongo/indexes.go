package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// listIndexes are the instances collection's indexes for the list queries (by creation
// time, with a status, name or parent). FerretDB v1.24 serves no query from them: it
// pushes a filter down to PostgreSQL as `_jsonb->'field' @> value`, which a btree on
// `_jsonb->'field'` cannot answer, and it sorts in memory (only $natural goes down). Yet
// every insert and every read-model write of an instance document updates each of them
// (a jsonb row rewritten is a new tuple in every index), so on FerretDB they are not made,
// and dropped from a hub that has them.
var listIndexes = []mongodrv.IndexModel{
	{Keys: bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("created")},
	{Keys: bson.D{{Key: "status", Value: 1}, {Key: "createdAt", Value: 1}}, Options: options.Index().SetName("status_created")},
	{Keys: bson.D{{Key: "name", Value: 1}, {Key: "createdAt", Value: 1}}, Options: options.Index().SetName("name_created")},
	{Keys: bson.D{{Key: "parentInstanceId", Value: 1}, {Key: "createdAt", Value: 1}}, Options: options.Index().SetName("parent_created")},
}

// indexNotFoundCode is the server's code for dropping an index that is not there.
const indexNotFoundCode = 27

// createIndexes declares every index the store's queries and races rely on, but for the
// list indexes when ferret (the server is FerretDB, which would never use them). Declaring an
// index that exists with the same keys and name is a no-op on MongoDB and FerretDB.
func (s *Store) createIndexes(ctx context.Context, ferret bool) error {
	lists := listIndexes
	if ferret {
		lists = nil
		// The collection is made now all the same, as declaring its indexes would: what
		// adds indexes on FerretDB's backend beside ours (scripts/ferretdb-pg-indexes.sh,
		// run once a hub is open) finds its table.
		if err := s.ensureCollection(ctx, s.instances); err != nil {
			return err
		}
		if err := s.dropListIndexes(ctx); err != nil {
			return err
		}
	}
	specs := []struct {
		coll    *mongodrv.Collection
		indexes []mongodrv.IndexModel
	}{
		{s.history, []mongodrv.IndexModel{{
			// The commit point of an episode (DESIGN section 4).
			Keys:    bson.D{{Key: "instanceId", Value: 1}, {Key: "executionId", Value: 1}, {Key: "number", Value: 1}},
			Options: options.Index().SetName("episode_unique").SetUnique(true),
		}}},
		{s.instances, lists},
		{s.workers, []mongodrv.IndexModel{
			{Keys: bson.D{{Key: "heartbeatAt", Value: 1}}, Options: options.Index().SetName("heartbeat")},
		}},
		{s.payloads, []mongodrv.IndexModel{payloadIndex}},
	}
	// One createIndexes command per index: FerretDB v1.24.2 panics (and drops the
	// connection) on a createIndexes naming two or more indexes that already exist.
	for _, spec := range specs {
		for _, idx := range spec.indexes {
			if _, err := spec.coll.Indexes().CreateOne(ctx, idx); err != nil {
				return fmt.Errorf("mongo store: create index %s on %s.%s: %w",
					*idx.Options.Name, s.db.Name(), spec.coll.Name(), err)
			}
		}
	}
	return nil
}

// namespaceExistsCode is the server's code for creating a collection that exists.
const namespaceExistsCode = 48

// ensureCollection creates coll unless it exists.
func (s *Store) ensureCollection(ctx context.Context, coll *mongodrv.Collection) error {
	err := s.db.CreateCollection(ctx, coll.Name())
	var ce mongodrv.CommandError
	if err != nil && !(errors.As(err, &ce) && ce.Code == namespaceExistsCode) {
		return fmt.Errorf("mongo store: create collection %s.%s: %w", s.db.Name(), coll.Name(), err)
	}
	return nil
}

// dropListIndexes drops the list indexes a hub made by an earlier version has: it lists the
// collection's indexes first, so that a hub without them costs one round trip at open.
func (s *Store) dropListIndexes(ctx context.Context) error {
	specs, err := s.instances.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("mongo store: list indexes of %s.%s: %w", s.db.Name(), s.instances.Name(), err)
	}
	present := map[string]bool{}
	for _, spec := range specs {
		present[spec.Name] = true
	}
	for _, idx := range listIndexes {
		if !present[*idx.Options.Name] {
			continue
		}
		_, err := s.instances.Indexes().DropOne(ctx, *idx.Options.Name)
		var ce mongodrv.CommandError
		if err != nil && !(errors.As(err, &ce) && (ce.Code == indexNotFoundCode || ce.Name == "NamespaceNotFound")) {
			return fmt.Errorf("mongo store: drop index %s on %s.%s (unused on FerretDB): %w",
				*idx.Options.Name, s.db.Name(), s.instances.Name(), err)
		}
	}
	return nil
}

// onFerretDB reports whether the server is FerretDB, whose buildInfo names its version.
func onFerretDB(ctx context.Context, client *mongodrv.Client) (bool, error) {
	var info bson.M
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("mongo store: buildInfo: %w", err)
	}
	_, ferret := info["ferretdbVersion"]
	return ferret, nil
}
