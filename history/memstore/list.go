package memstore

import (
	"cmp"
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
	var after *record.Cursor
	if f.Cursor != "" {
		c, err := record.DecodeCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("memstore: list instances: %w", err)
		}
		after = &c
	}
	type page struct {
		insts []history.Instance
		next  string
	}
	p, err := run(ctx, s, Op{Kind: OpListInstances}, func() (page, error) {
		var sel []history.Instance
		for _, doc := range s.instances {
			inst := decode[history.Instance](doc, defaultRegistry)
			if matches(inst, f, after) {
				sel = append(sel, *inst)
			}
		}
		slices.SortFunc(sel, func(a, b history.Instance) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return cmp.Compare(a.InstanceID, b.InstanceID)
		})
		if len(sel) <= size {
			return page{insts: sel}, nil
		}
		sel = sel[:size]
		last := sel[size-1]
		return page{sel, record.EncodeCursor(record.Cursor{CreatedAtMs: last.CreatedAt.UnixMilli(), ID: last.InstanceID})}, nil
	})
	if err != nil {
		return nil, "", err
	}
	if p.insts == nil {
		p.insts = []history.Instance{}
	}
	return p.insts, p.next, nil
}

// matches applies a filter, and the cursor when there is one, to a stored instance. Filter
// times round to milliseconds as they do on their way to MongoDB.
func matches(inst *history.Instance, f history.ListFilter, after *record.Cursor) bool {
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
	if !f.CreatedTo.IsZero() && !inst.CreatedAt.Before(millis(f.CreatedTo)) {
		return false
	}
	if after != nil {
		at := inst.CreatedAt.UnixMilli()
		if at < after.CreatedAtMs || at == after.CreatedAtMs && inst.InstanceID <= after.ID {
			return false
		}
	}
	return true
}
