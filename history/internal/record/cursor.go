package record

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/warrenhq/warren/history"
)

// Cursor is where the next page of a list starts: after the instance with this creation
// time (milliseconds, as stored) and id. Pages are ordered by (createdAt, id), which is
// unique, so paging neither repeats nor skips an instance that exists throughout.
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
