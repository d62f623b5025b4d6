package mongo

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/x/mongo/driver"

	"github.com/warrenhq/warren/history"
)

// The store refuses, before any round trip, what no server state could accept, so that the
// caller learns at once that trying again cannot help, and so that history/memstore, which
// makes the same checks, agrees with it on every record.

// maxIDLen bounds instance, execution and worker ids, well below any index key limit.
const maxIDLen = history.MaxInstanceIDBytes

// maxRecordBytes bounds the BSON encoding of one record (an instance, an episode) as
// bson.Marshal writes it: MongoDB's 16 MiB document limit, less 1 KiB for the fields a store
// adds (an episode's _id, an instance document's writer). history/memstore measures the
// same way, so the two stores refuse the same records.
const maxRecordBytes = 16<<20 - 1<<10

// Server error codes for a document over the size limit.
var tooLargeCodes = []int{
	10334, // BSONObjectTooLarge
	17419, // an update made the document too large
	17420, // the same, from a replacement
}

// checkID refuses ids the store cannot key on.
func checkID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidArgument, what)
	case len(id) > maxIDLen:
		return fmt.Errorf("%w: %s is %d bytes long (at most %d)", ErrInvalidArgument, what, len(id), maxIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: %s %q is not valid UTF-8", ErrInvalidArgument, what, id)
	case strings.IndexByte(id, 0) >= 0:
		return fmt.Errorf("%w: %s %q contains a NUL byte", ErrInvalidArgument, what, id)
	}
	return nil
}

// checkDocument refuses an encoded record over the size limit (ErrTooLarge), not counting
// the added bytes of the store's own fields, or holding a string with a NUL byte: FerretDB
// keeps documents in PostgreSQL jsonb, which cannot hold one (ErrInvalidArgument).
func checkDocument(what string, doc bson.Raw, added int) error {
	if n := len(doc) - added; n > maxRecordBytes {
		return fmt.Errorf("%w: %s is %d bytes, over the %d-byte limit", history.ErrTooLarge, what, n, maxRecordBytes)
	}
	if path, ok := findNUL(doc, ""); ok {
		return fmt.Errorf("%w: %s: the string at %s contains a NUL byte", ErrInvalidArgument, what, path)
	}
	return nil
}

// findNUL returns the path of the first string value in doc (an embedded document or an
// array) that contains a NUL byte.
func findNUL(doc bson.Raw, prefix string) (string, bool) {
	elems, err := doc.Elements()
	if err != nil {
		return "", false // the driver encoded it; a malformed document cannot come from there
	}
	for _, e := range elems {
		path := prefix + e.Key()
		v := e.Value()
		switch v.Type {
		case bsontype.String:
			if strings.IndexByte(v.StringValue(), 0) >= 0 {
				return path, true
			}
		case bsontype.EmbeddedDocument, bsontype.Array:
			if p, ok := findNUL(v.Value, path+"."); ok {
				return p, true
			}
		}
	}
	return "", false
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
