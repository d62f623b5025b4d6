package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
)

// millis rounds t as a BSON datetime does: whole milliseconds, UTC.
func millis(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// ListInstances returns one page of the instances that match f in (createdAt, id) order, and
// the cursor of the next page ("" after the last).
func (s *Store) ListInstances(ctx context.Context, f history.ListFilter) ([]history.Instance, string, error) {
	size := f.PageSize
	switch {
	case size == 0:
		size = defaultPageSize
	case size < 0 || size > maxPageSize:
		return nil, "", fmt.Errorf("memstore: list instances: %w: page size %d is outside 1..%d", history.ErrInvalidArgument, size, maxPageSize)
	}
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo) {
		return nil, "", fmt.Errorf("memstore: list instances: %w: created range [%s, %s) is empty", history.ErrInvalidArgument,
			f.CreatedFrom.Format(time.RFC3339Nano), f.CreatedTo.Format(time.RFC3339Nano))
	}
	after, err := record.ParseCursor(f.Cursor)
	if err != nil {
		return nil, "", fmt.Errorf("memstore: list instances: %w", err)
	}
	type result struct {
		insts []history.Instance
		next  string
	}
	p, err := run(ctx, s, Op{Kind: OpListInstances}, func() (result, error) {
		var sel []history.Instance
		for _, doc := range s.instances {
			if inst := decode[history.Instance](doc, defaultRegistry); matches(inst, f) {
				sel = append(sel, *inst)
			}
		}
		insts, next := page(sel, instanceKey, after, size)
		return result{insts, next}, nil
	})
	if err != nil {
		return nil, "", err
	}
	if p.insts == nil {
		p.insts = []history.Instance{}
	}
	return p.insts, p.next, nil
}

// instanceKey orders the instances' pages.
func instanceKey(inst history.Instance) (time.Time, string) { return inst.CreatedAt, inst.InstanceID }

// matches applies a filter to a stored instance. Filter times round to milliseconds as they
// do on their way to MongoDB.
func matches(inst *history.Instance, f history.ListFilter) bool {
	if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, inst.Status) {
		return false
	}
	if f.Name != "" && inst.Name != f.Name {
		return false
	}
	if f.ParentID != "" && inst.ParentInstanceID != f.ParentID {
		return false
	}
	if !f.CreatedFrom.IsZero() && inst.CreatedAt.Before(millis(f.CreatedFrom)) {
		return false
	}
	return f.CreatedTo.IsZero() || inst.CreatedAt.Before(millis(f.CreatedTo))
}
