package mongo

import (
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/internal/testenv"
)

func instanceIndexNames(t *testing.T, s *Store) []string {
	t.Helper()
	ctx := testContext(t)
	cur, err := s.instances.Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var specs []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	return names
}

// On FerretDB the list indexes are not made, and a hub that has one loses it when a store
// opens it; on MongoDB they are all there.
func TestListIndexesOnlyWhereTheServerUsesThem(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	ferret, err := onFerretDB(ctx, s.client)
	if err != nil {
		t.Fatal(err)
	}
	names := instanceIndexNames(t, s)
	for _, idx := range listIndexes {
		if has := slices.Contains(names, *idx.Options.Name); has == ferret {
			t.Fatalf("FerretDB: %v; the instances collection's indexes are %v", ferret, names)
		}
	}
	if !ferret {
		return
	}
	// The collection is there from the open on, for indexes added on FerretDB's backend.
	colls, err := s.db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: "instances"}})
	if err != nil || len(colls) != 1 {
		t.Fatalf("after the open, collections named instances: %v (%v)", colls, err)
	}
	// A hub made by an earlier version has them.
	if _, err := s.instances.Indexes().CreateOne(ctx, listIndexes[1]); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(instanceIndexNames(t, s), "status_created") {
		t.Fatal("the index made by hand is not there")
	}
	again, err := Open(ctx, Options{URI: testenv.MongoURI(), Hub: s.db.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = again.Close(ctx) }()
	if names := instanceIndexNames(t, s); slices.Contains(names, "status_created") {
		t.Fatalf("after a store opened the hub, its indexes are %v", names)
	}
	// The collection still answers by status.
	if _, err := s.instances.CountDocuments(ctx, bson.D{{Key: "status", Value: "Running"}}); err != nil {
		t.Fatal(err)
	}
}
