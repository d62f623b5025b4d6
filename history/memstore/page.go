package memstore

import (
	"cmp"
	"slices"
	"time"

	"github.com/warrenhq/warren/history/internal/record"
)

// page is one page of a list, as history/mongo answers it: the records after the cursor
// (nil: from the first), in (time, id) order, at most limit, and the next page's cursor
// ("" after the last). key gives a record's time and id.
func page[T any](records []T, key func(T) (time.Time, string), after *record.Cursor, limit int) ([]T, string) {
	if after != nil {
		records = slices.DeleteFunc(records, func(r T) bool { return !after.Follows(key(r)) })
	}
	slices.SortFunc(records, func(a, b T) int {
		at, aid := key(a)
		bt, bid := key(b)
		return cmp.Or(at.Compare(bt), cmp.Compare(aid, bid))
	})
	return record.Page(records, limit, key)
}
