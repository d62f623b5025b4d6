package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"golang.org/x/sync/errgroup"

	"github.com/warrenhq/warren/history"
)

// FerretDB v1.24 hands its database only plain equalities: a filter with $in or $or is
// answered by reading the whole collection and filtering in FerretDB. On its PostgreSQL
// backend a plain equality is filtered in the database, where the GIN indexes of
// scripts/ferretdb-pg-indexes.sh serve it. So there, reading many instances or histories
// one keyed query each, a few at a time, costs what the answer is worth, while one $in or
// $or query costs the whole collection: with 10,000 hellos in the store a worker's warm-up
// read 22 histories by $or, timed out after 30 s, and tried again at every idle moment,
// holding the fleet at a third of its rate (`hello-10k` in scripts/bench-suite.sh). On
// SQLite every query reads its collection anyway, so one $in or $or stays best there, as it
// does on MongoDB, whose indexes serve them.

// keyedReadsInFlight bounds the keyed queries one GetInstances or LoadHistories has in flight.
// FerretDB on PostgreSQL holds a database connection per query, from a pool of 50 shared by
// every client.
const keyedReadsInFlight = 4

// filtersInDatabase reports whether the server, known to be FerretDB, filters a plain
// equality on a field other than _id in its database (explain's filterPushdown): true on
// its PostgreSQL backend, false on SQLite.
func (s *Store) filtersInDatabase(ctx context.Context) (bool, error) {
	var plan struct {
		FilterPushdown bool `bson:"filterPushdown"`
	}
	cmd := bson.D{{Key: "explain", Value: bson.D{
		{Key: "find", Value: instancesCollection},
		{Key: "filter", Value: bson.D{{Key: "status", Value: string(history.StatusRunning)}}},
	}}}
	if err := s.db.RunCommand(ctx, cmd).Decode(&plan); err != nil {
		return false, fmt.Errorf("mongo store: explain: %w", err)
	}
	return plan.FilterPushdown, nil
}

// eachKeyed calls read for 0..n-1, keyedReadsInFlight at a time, and returns the first
// error; after one, the reads still to come see their context cancelled.
func eachKeyed(ctx context.Context, n int, read func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(keyedReadsInFlight)
	for i := range n {
		g.Go(func() error { return read(gctx, i) })
	}
	return g.Wait()
}

// getInstancesKeyed is GetInstances with one keyed query per id.
func (s *Store) getInstancesKeyed(ctx context.Context, ids []string) (map[string]*history.Instance, error) {
	found := make([]*history.Instance, len(ids))
	err := eachKeyed(ctx, len(ids), func(ctx context.Context, i int) error {
		inst, err := s.GetInstance(ctx, ids[i])
		if errors.Is(err, history.ErrInstanceNotFound) {
			return nil
		}
		found[i] = inst
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get %d instances: %w", len(ids), err)
	}
	out := make(map[string]*history.Instance, len(ids))
	for _, inst := range found {
		if inst != nil {
			out[inst.InstanceID] = inst
		}
	}
	return out, nil
}

// loadHistoriesKeyed is LoadHistories with one keyed query per execution.
func (s *Store) loadHistoriesKeyed(ctx context.Context, refs []history.ExecutionRef) (map[history.ExecutionRef][]history.Episode, error) {
	found := make([][]history.Episode, len(refs))
	err := eachKeyed(ctx, len(refs), func(ctx context.Context, i int) error {
		eps, err := s.LoadHistory(ctx, refs[i].InstanceID, refs[i].ExecutionID)
		found[i] = eps
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load histories of %d executions: %w", len(refs), err)
	}
	out := make(map[history.ExecutionRef][]history.Episode, len(refs))
	for i, eps := range found {
		if len(eps) > 0 {
			out[refs[i]] = eps
		}
	}
	return out, nil
}
