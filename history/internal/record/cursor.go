package record

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
)

// Cursor is where the next page of a list starts: after the record with this time
// (milliseconds, as stored: an instance's creation, a dead letter's death) and id. Pages
// are ordered by (time, id), which is unique, so paging neither repeats nor skips a record
// that exists throughout.
type Cursor struct {
	CreatedAtMs int64  `json:"t"`
	ID          string `json:"id"`
}

// EncodeCursor is the opaque form handed to callers.
func EncodeCursor(c Cursor) string {
	b, _ := json.Marshal(c) // a struct of an int and a string always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads what EncodeCursor wrote; anything else is history.ErrInvalidArgument.
func DecodeCursor(s string) (Cursor, error) {
	var c Cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return Cursor{}, fmt.Errorf("%w: malformed cursor %q (pass back the one a previous page returned)", history.ErrInvalidArgument, s)
	}
	return c, nil
}

// ParseCursor is DecodeCursor for a caller's cursor, where "" (the first page) is nil.
func ParseCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	c, err := DecodeCursor(s)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Follows reports whether the record at (at, id) comes after the cursor.
func (c Cursor) Follows(at time.Time, id string) bool {
	ms := at.UnixMilli()
	return ms > c.CreatedAtMs || ms == c.CreatedAtMs && id > c.ID
}

// Query is the MongoDB condition of the records after the cursor, ordered by (timeField, _id).
func (c Cursor) Query(timeField string) bson.D {
	at := time.UnixMilli(c.CreatedAtMs).UTC()
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: timeField, Value: bson.D{{Key: "$gt", Value: at}}}},
		bson.D{{Key: timeField, Value: at}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: c.ID}}}},
	}}}
}

// Page cuts records, in (time, id) order and asked for with one more than limit (that one
// says another page follows), to limit, and returns the next page's cursor ("" after the
// last page). key gives a record's time and id.
func Page[T any](records []T, limit int, key func(T) (time.Time, string)) ([]T, string) {
	if len(records) <= limit {
		return records, ""
	}
	records = records[:limit]
	at, id := key(records[limit-1])
	return records, EncodeCursor(Cursor{CreatedAtMs: at.UnixMilli(), ID: id})
}
