package main

import (
	"context"
	"fmt"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
)

// A bench run's instances end, as their waiters hear it, before the store's documents say
// so: workers write the documents after the ends, in batches (the read model, design
// section 10). Under load those writes fall behind, and what they cost would land after a
// window closed at the last end. So a run lasts until the store lists none of the
// instances created since its first as unended, and its CPU and store operations are
// counted up to then.

// readModelPoll is how often the bench asks whether the read model has caught up: a list of
// at most one instance per unended status, a store read each.
const readModelPoll = 100 * time.Millisecond

// readModelWait bounds the wait for the read model to catch up after the last end.
const readModelWait = 2 * time.Minute

// unendedStatuses are the statuses a run's instance has until its end is written.
var unendedStatuses = []history.Status{
	history.StatusPending, history.StatusRunning, history.StatusSuspended, history.StatusContinuedAsNew,
}

// awaitReadModel polls until the store lists no instance created at or after since as
// unended, and returns the time of the answer that said so. It fails when that takes
// longer than readModelWait, or the dispatcher does not answer.
func (c *cli) awaitReadModel(ctx context.Context, since time.Time) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, readModelWait)
	defer cancel()
	for {
		page, err := c.unended(ctx, since)
		if err != nil {
			if ctx.Err() != nil {
				return time.Time{}, fmt.Errorf("the store still lists unended instances of the run %s after its last end", readModelWait)
			}
			return time.Time{}, fmt.Errorf("asking whether the run's documents are written: %w", err)
		}
		if len(page) == 0 {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("the store still lists unended instances of the run (%s, %s) %s after its last end",
				page[0].InstanceID, page[0].Status, readModelWait)
		case <-time.After(readModelPoll):
		}
	}
}

// unended lists at most one instance created at or after since that the store has as
// unended. It asks one status at a time: FerretDB filters a single status in its database
// (from an index, on PostgreSQL), where a list of them would have it read every document
// of the hub into itself, ten times a second.
func (c *cli) unended(ctx context.Context, since time.Time) ([]api.Status, error) {
	for _, st := range unendedStatuses {
		page, _, err := c.client.List(ctx, client.ListOptions{Statuses: []history.Status{st}, CreatedFrom: since, PageSize: 1})
		if err != nil || len(page) > 0 {
			return page, err
		}
	}
	return nil, nil
}
