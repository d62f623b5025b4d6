package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/warrenhq/warren/history"
)

// OpCountInstances is the Op.Kind of CountInstances.
const OpCountInstances = "CountInstances"

// CountInstances counts the instances that match f (its page size and cursor are ignored),
// as history/mongo's does.
func (s *Store) CountInstances(ctx context.Context, f history.ListFilter) (int64, error) {
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo) {
		return 0, fmt.Errorf("memstore: count instances: %w: created range [%s, %s) is empty", history.ErrInvalidArgument,
			f.CreatedFrom.Format(time.RFC3339Nano), f.CreatedTo.Format(time.RFC3339Nano))
	}
	return run(ctx, s, Op{Kind: OpCountInstances}, func() (int64, error) {
		var n int64
		for _, doc := range s.instances {
			if matches(decode[history.Instance](doc, defaultRegistry), f) {
				n++
			}
		}
		return n, nil
	})
}
