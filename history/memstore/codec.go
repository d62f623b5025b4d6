package memstore

import (
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsoncodec"

	"github.com/warrenhq/warren/history/internal/record"
)

// The store keeps every record BSON-encoded, as history/mongo sends it to the server, so
// that what comes back is a copy and rounds as it would there: instances and workers with
// the driver's defaults (times as datetimes, milliseconds in UTC), episodes with
// record.Registry (times as RFC 3339 strings with nanoseconds, as history/mongo writes
// them). json.RawMessage and []byte fields are binary, byte for byte, either way.
var (
	historyRegistry = record.Registry
	defaultRegistry = record.DefaultRegistry
)

// decode decodes a stored record into a new value, panicking on an error: the store wrote
// every record it reads, so an error is a bug in the store.
func decode[T any](doc bson.Raw, reg *bsoncodec.Registry) *T {
	v := new(T)
	if err := record.Unmarshal(reg, doc, v); err != nil {
		panic(fmt.Sprintf("memstore: decoding a stored %T: %v", *v, err))
	}
	return v
}
