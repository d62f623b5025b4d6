package mongo

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/x/mongo/driver"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
)

// The store refuses, before any round trip, what no server state could accept, so that the
// caller learns at once that trying again cannot help. The checks on ids and documents are
// history/internal/record's, which history/memstore makes too, so the two stores agree on
// every record; what is left here reads the server's own verdict.

// Server error codes for a document over the size limit.
var tooLargeCodes = []int{
	10334, // BSONObjectTooLarge
	17419, // an update made the document too large
	17420, // the same, from a replacement
}

// checkID refuses ids the store cannot key on.
func checkID(what, id string) error { return record.CheckID(what, id) }

// checkDocument refuses an encoded record over the size limit (ErrTooLarge), not counting
// the added bytes of the store's own fields, or holding a string with a NUL byte, which
// FerretDB's PostgreSQL jsonb cannot hold (ErrInvalidArgument).
func checkDocument(what string, doc bson.Raw, added int) error {
	return record.CheckDocument(what, doc, added)
}

// isTooLarge reports whether a driver or server error says a document exceeds the limit.
func isTooLarge(err error) bool {
	if errors.Is(err, driver.ErrDocumentTooLarge) {
		return true
	}
	var se interface{ HasErrorCode(int) bool } // server errors, and one write error of a batch
	if !errors.As(err, &se) {
		return false
	}
	for _, code := range tooLargeCodes {
		if se.HasErrorCode(code) {
			return true
		}
	}
	return false
}

// writeError wraps an error of a write, adding history.ErrTooLarge when it says the
// document was too large.
func writeError(op string, err error) error {
	if isTooLarge(err) {
		return fmt.Errorf("%s: %w: %w", op, history.ErrTooLarge, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
