package mongo

import (
	"context"
	"fmt"

	"github.com/warrenhq/warren/history"
)

// CountInstances counts the instances that match f (its page size and cursor are ignored).
// The dispatcher's dashboard shows these counts; no worker path calls it.
func (s *Store) CountInstances(ctx context.Context, f history.ListFilter) (int64, error) {
	f.Cursor = ""
	filter, err := listQuery(f)
	if err != nil {
		return 0, fmt.Errorf("count instances: %w", err)
	}
	n, err := s.instances.CountDocuments(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("count instances: %w", err)
	}
	return n, nil
}
