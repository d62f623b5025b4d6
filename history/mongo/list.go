package mongo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/warrenhq/warren/history"
)

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// listCursor is where the next page starts: after the instance with this creation time
// (milliseconds, as stored) and id. Pages are ordered by (createdAt, _id), which is unique,
// so paging neither repeats nor skips an instance that exists throughout.
type listCursor struct {
	CreatedAtMs int64  `json:"t"`
	ID          string `json:"id"`
}

func encodeCursor(c listCursor) string {
	b, _ := json.Marshal(c) // a struct of an int and a string always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (listCursor, error) {
	var c listCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return listCursor{}, fmt.Errorf("%w: malformed cursor %q (pass back the one a previous page returned)", ErrInvalidArgument, s)
	}
	return c, nil
}

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
	if len(page) <= size {
		return page, "", nil
	}
	page = page[:size]
	last := page[size-1]
	return page, encodeCursor(listCursor{CreatedAtMs: last.CreatedAt.UnixMilli(), ID: last.InstanceID}), nil
}

// listQuery turns a filter into a query document.
func listQuery(f history.ListFilter) (bson.D, error) {
	var and bson.A
	if len(f.Statuses) > 0 {
		and = append(and, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: f.Statuses}}}})
	}
	if f.Name != "" {
		and = append(and, bson.D{{Key: "name", Value: f.Name}})
	}
	if f.ParentID != "" {
		and = append(and, bson.D{{Key: "parentInstanceId", Value: f.ParentID}})
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
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		at := time.UnixMilli(c.CreatedAtMs).UTC()
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "createdAt", Value: bson.D{{Key: "$gt", Value: at}}}},
			bson.D{{Key: "createdAt", Value: at}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: c.ID}}}},
		}}})
	}
	if len(and) == 0 {
		return bson.D{}, nil
	}
	return bson.D{{Key: "$and", Value: and}}, nil
}
