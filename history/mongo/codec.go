package mongo

import "github.com/warrenhq/warren/history/internal/record"

// historyRegistry encodes the history collection's documents: record.Registry, which
// writes a time.Time as an RFC 3339 string with nanoseconds (not a BSON datetime, which
// keeps only milliseconds), so a worker that reloads history sees exactly the times of the
// worker that wrote it. history/memstore encodes episodes with the same registry.
var historyRegistry = record.Registry
