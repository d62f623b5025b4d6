package memstore

import (
	"context"
	"fmt"

	"github.com/warrenhq/warren/history"
)

// EnsureHub records the partition count on first use and refuses another count later
// (history.ErrPartitionMismatch, naming both).
func (s *Store) EnsureHub(ctx context.Context, partitions int) error {
	if partitions < 1 || partitions > maxPartitions {
		return fmt.Errorf("memstore: ensure hub: %w: partition count %d is outside 1..%d", history.ErrInvalidArgument, partitions, maxPartitions)
	}
	return exec(ctx, s, Op{Kind: OpEnsureHub}, func() error {
		switch s.partitions {
		case 0:
			s.partitions = partitions
		case partitions:
		default:
			return fmt.Errorf("%w: the hub has %d partitions, this process was started with %d; "+
				"start it with %d partitions or use another hub",
				history.ErrPartitionMismatch, s.partitions, partitions, s.partitions)
		}
		return nil
	})
}
