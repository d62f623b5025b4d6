package dispatcher

import (
	"context"
	"slices"

	"github.com/warrenhq/warren/history"
)

// PurgeInstances deletes the matching ended instances of the double, as the real stores do.
func (s *memStore) PurgeInstances(ctx context.Context, f history.PurgeFilter) (int, error) {
	statuses, err := f.PurgeStatuses()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return 0, s.failWith
	}
	n := 0
	for id, inst := range s.instances {
		switch {
		case f.Limit > 0 && n == f.Limit:
		case !slices.Contains(statuses, inst.Status), f.Name != "" && inst.Name != f.Name:
		case !f.CreatedFrom.IsZero() && inst.CreatedAt.Before(f.CreatedFrom):
		case !f.CreatedTo.IsZero() && !inst.CreatedAt.Before(f.CreatedTo):
		default:
			delete(s.instances, id)
			delete(s.episodes, id)
			s.writes++
			n++
		}
	}
	return n, nil
}
