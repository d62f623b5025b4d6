package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// ListInstances returns one page of the instances that match f, oldest first, and the cursor
// of the next page ("" after the last page).
func (s *Store) ListInstances(ctx context.Context, f history.ListFilter) ([]history.Instance, string, error) {
	size := f.PageSize
	switch {
	case size == 0:
		size = defaultPageSize
	case size < 0 || size > maxPageSize:
		return nil, "", fmt.Errorf("list instances: %w: page size %d is outside 1..%d", ErrInvalidArgument, size, maxPageSize)
	}
	filter, err := listQuery(f)
	if err != nil {
		return nil, "", fmt.Errorf("list instances: %w", err)
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(size) + 1) // one more than a page says whether another page follows
	cur, err := s.instances.Find(ctx, filter, opts)
	if err != nil {
		return nil, "", fmt.Errorf("list instances: %w", err)
	}
	page := make([]history.Instance, 0, size+1)
	if err := cur.All(ctx, &page); err != nil {
		return nil, "", fmt.Errorf("list instances: %w", err)
	}
	page, next := record.Page(page, size, func(inst history.Instance) (time.Time, string) { return inst.CreatedAt, inst.InstanceID })
	return page, next, nil
}

// listQuery turns a filter into a query document. Equalities (one status, the name, the
// parent) are top-level fields of the query, the rest under $and: FerretDB on PostgreSQL
// pushes only top-level equalities down into its SQL, and fetches the whole collection
// into itself for anything else.
func listQuery(f history.ListFilter) (bson.D, error) {
	var top bson.D
	var and bson.A
	switch len(f.Statuses) {
	case 0:
	case 1:
		top = append(top, bson.E{Key: "status", Value: f.Statuses[0]})
	default:
		and = append(and, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: f.Statuses}}}})
	}
	if f.Name != "" {
		top = append(top, bson.E{Key: "name", Value: f.Name})
	}
	if f.ParentID != "" {
		top = append(top, bson.E{Key: "parentInstanceId", Value: f.ParentID})
	}
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo) {
		return nil, fmt.Errorf("%w: created range [%s, %s) is empty", ErrInvalidArgument,
			f.CreatedFrom.Format(time.RFC3339Nano), f.CreatedTo.Format(time.RFC3339Nano))
	}
	if !f.CreatedFrom.IsZero() {
		and = append(and, bson.D{{Key: "createdAt", Value: bson.D{{Key: "$gte", Value: f.CreatedFrom}}}})
	}
	if !f.CreatedTo.IsZero() {
		and = append(and, bson.D{{Key: "createdAt", Value: bson.D{{Key: "$lt", Value: f.CreatedTo}}}})
	}
	if f.Cursor != "" {
		c, err := record.DecodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		and = append(and, c.Query("createdAt"))
	}
	if len(and) > 0 {
		top = append(top, bson.E{Key: "$and", Value: and})
	}
	if top == nil {
		top = bson.D{}
	}
	return top, nil
}
