package record

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
)

// A store refuses, before any effect, what no server state could accept, so that the
// caller learns at once that trying again cannot help; both stores refuse with these
// checks, so they agree on every record.

// MaxIDBytes bounds instance, execution and worker ids, well below any index key limit.
const MaxIDBytes = history.MaxInstanceIDBytes

// MaxBytes bounds the BSON encoding of one record (an instance, an episode, a worker) as
// bson.Marshal writes it: MongoDB's 16 MiB document limit, less 1 KiB for the fields
// history/mongo adds (an episode's _id, an instance document's writer).
const MaxBytes = 16<<20 - 1<<10

// CheckID refuses ids a store cannot key on (history.ErrInvalidArgument): empty, longer
// than MaxIDBytes, not valid UTF-8, or holding a NUL byte. what names the id in the error.
func CheckID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s", history.ErrInvalidArgument, what)
	case len(id) > MaxIDBytes:
		return fmt.Errorf("%w: %s is %d bytes long (at most %d)", history.ErrInvalidArgument, what, len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: %s %q is not valid UTF-8", history.ErrInvalidArgument, what, id)
	case strings.IndexByte(id, 0) >= 0:
		return fmt.Errorf("%w: %s %q contains a NUL byte", history.ErrInvalidArgument, what, id)
	}
	return nil
}

// CheckDocument refuses an encoded record over MaxBytes (history.ErrTooLarge), not
// counting the added bytes of a store's own fields already in doc, or holding a string
// with a NUL byte: FerretDB keeps documents in PostgreSQL jsonb, which cannot hold one
// (history.ErrInvalidArgument). what names the record in the error.
func CheckDocument(what string, doc bson.Raw, added int) error {
	if n := len(doc) - added; n > MaxBytes {
		return fmt.Errorf("%w: %s is %d bytes, over the %d-byte limit", history.ErrTooLarge, what, n, MaxBytes)
	}
	if path, ok := findNUL(doc, ""); ok {
		return fmt.Errorf("%w: %s: the string at %s contains a NUL byte", history.ErrInvalidArgument, what, path)
	}
	return nil
}

// findNUL returns the path of the first string value in doc (an embedded document or an
// array) that contains a NUL byte.
func findNUL(doc bson.Raw, prefix string) (string, bool) {
	elems, err := doc.Elements()
	if err != nil {
		return "", false // bson.Marshal encoded it; a malformed document cannot come from there
	}
	for _, e := range elems {
		path := prefix + e.Key()
		v := e.Value()
		switch v.Type {
		case bson.TypeString:
			if strings.IndexByte(v.StringValue(), 0) >= 0 {
				return path, true
			}
		case bson.TypeEmbeddedDocument, bson.TypeArray:
			if p, ok := findNUL(v.Value, path+"."); ok {
				return p, true
			}
		}
	}
	return "", false
}
