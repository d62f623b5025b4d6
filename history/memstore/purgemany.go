package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/warrenhq/warren/history"
)

// OpPurgeInstances is the operation kind of one batch of PurgeInstances.
const OpPurgeInstances = "PurgeInstances"

// purgeBatch is how many instances one batch of PurgeInstances deletes, as in
// history/mongo.
const purgeBatch = 500

// PurgeInstances deletes the ended instances that match f, and all their history, one
// batch at a time; each batch happens at once, under the store's lock, and asks
// Options.Faults once. It returns how many it deleted, including the batches before an
// error.
func (s *Store) PurgeInstances(ctx context.Context, f history.PurgeFilter) (int, error) {
	statuses, err := f.PurgeStatuses()
	if err != nil {
		return 0, fmt.Errorf("memstore: purge instances: %w", err)
	}
	match := history.ListFilter{Statuses: statuses, Name: f.Name, CreatedFrom: f.CreatedFrom, CreatedTo: f.CreatedTo}
	purged := 0
	for f.Limit == 0 || purged < f.Limit {
		size := purgeBatch
		if f.Limit > 0 {
			size = min(size, f.Limit-purged)
		}
		n, err := run(ctx, s, Op{Kind: OpPurgeInstances}, func() (int, error) {
			n := 0
			for _, id := range slices.Sorted(maps.Keys(s.instances)) {
				if n == size {
					break
				}
				if matches(decode[history.Instance](s.instances[id], defaultRegistry), match) {
					delete(s.instances, id)
					delete(s.history, id)
					delete(s.payloads, id)
					n++
				}
			}
			return n, nil
		})
		if err != nil {
			return purged, fmt.Errorf("memstore: purge instances: %d purged so far: %w", purged, err)
		}
		purged += n
		if n < size {
			break
		}
	}
	return purged, nil
}
