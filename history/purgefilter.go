package history

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// PurgeFilter selects the ended instances [Store.PurgeInstances] deletes. Zero fields match
// everything, except that Statuses, when given, must all be terminal.
type PurgeFilter struct {
	// Statuses are the statuses to purge, each Completed, Failed or Terminated; none
	// means all three.
	Statuses    []Status
	Name        string    // only instances of this orchestrator
	CreatedFrom time.Time // inclusive
	CreatedTo   time.Time // exclusive
	// Limit caps how many instances one call purges; 0 means no cap.
	Limit int
}

// TerminalStatuses are the statuses an instance can be purged in.
var TerminalStatuses = []Status{StatusCompleted, StatusFailed, StatusTerminated}

// PurgeStatuses checks f and returns the statuses it purges: f.Statuses, or all of
// [TerminalStatuses] when it names none. A status that is not terminal, a negative limit, an
// empty created window or a NUL byte in the name wraps [ErrInvalidArgument]: the filter can
// never be served, and a store refuses it before deleting anything.
func (f PurgeFilter) PurgeStatuses() ([]Status, error) {
	for _, s := range f.Statuses {
		if !s.Terminal() {
			return nil, fmt.Errorf("%w: status %q cannot be purged; only Completed, Failed and Terminated instances can", ErrInvalidArgument, s)
		}
	}
	if f.Limit < 0 {
		return nil, fmt.Errorf("%w: purge limit %d is negative", ErrInvalidArgument, f.Limit)
	}
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo) {
		return nil, fmt.Errorf("%w: created range [%s, %s) is empty", ErrInvalidArgument,
			f.CreatedFrom.Format(time.RFC3339Nano), f.CreatedTo.Format(time.RFC3339Nano))
	}
	if strings.ContainsRune(f.Name, 0) {
		return nil, fmt.Errorf("%w: name %q holds a NUL byte", ErrInvalidArgument, f.Name)
	}
	if len(f.Statuses) == 0 {
		return slices.Clone(TerminalStatuses), nil
	}
	return slices.Compact(slices.Sorted(slices.Values(f.Statuses))), nil
}
