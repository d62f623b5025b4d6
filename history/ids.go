package history

import (
	"fmt"
	"strings"
)

// MaxInstanceIDBytes is the longest instance id Warren accepts: ids are keys in every
// store and names in RabbitMQ headers.
const MaxInstanceIDBytes = 1024

// CheckInstanceID returns an error wrapping ErrInvalidArgument for an id no store can keep:
// empty, longer than MaxInstanceIDBytes, or holding a NUL byte (PostgreSQL's jsonb, under
// FerretDB, refuses it).
func CheckInstanceID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty instance id", ErrInvalidArgument)
	case len(id) > MaxInstanceIDBytes:
		return fmt.Errorf("%w: instance id of %d bytes (at most %d)", ErrInvalidArgument, len(id), MaxInstanceIDBytes)
	case strings.IndexByte(id, 0) >= 0:
		return fmt.Errorf("%w: instance id %q holds a NUL byte", ErrInvalidArgument, id)
	}
	return nil
}
