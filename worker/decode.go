package worker

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/warrenhq/warren/history"
)

// DefaultMaxMessageBytes is the largest message body a worker decodes by default: the
// store's record limit (16 MiB), since an event bigger than that can never be committed in
// an episode anyway.
const DefaultMaxMessageBytes = 16 << 20

// errMessageTooLarge is wrapped by decoding errors for a body over the worker's limit.
var errMessageTooLarge = errors.New("too large")

// checkSize refuses a body over limit before anything reads it: a poison message of any
// size then costs one dead-letter publish, never a decode, a place in the inbox or in an
// instance's cached history.
func checkSize(body []byte, limit int) error {
	if len(body) > limit {
		return fmt.Errorf("%w: %d bytes, over the worker's limit of %d (WARREN_MAX_MESSAGE_BYTES)", errMessageTooLarge, len(body), limit)
	}
	return nil
}

// decodeControl reads a control message. An error means the message can never be
// processed, by this build or a retry, and says why (the dead letter's reason): a body
// over limit, not JSON, no instance id, or an event of an unknown kind or of another
// schema version (a newer Warren's: applying it could forge a result).
func decodeControl(body []byte, limit int) (history.ControlMessage, error) {
	var m history.ControlMessage
	if err := checkSize(body, limit); err != nil {
		return m, fmt.Errorf("control message %w", err)
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("undecodable control message: %w", err)
	}
	if m.InstanceID == "" {
		return m, errors.New("undecodable control message: no instance id")
	}
	if err := m.Event.Check(); err != nil {
		return m, fmt.Errorf("unreadable control message: %w", err)
	}
	return m, nil
}

// decodeActivity reads an activity request of message kind kind; an error says why this
// build can never run it (errors.Is history.ErrNewerVersion for another kind of work item
// or a request of a newer version, which a newer worker may run). One written in another
// shape is refused for the fields it lacks.
func decodeActivity(kind string, body []byte, limit int) (history.ActivityRequest, error) {
	var req history.ActivityRequest
	if err := checkSize(body, limit); err != nil {
		return req, fmt.Errorf("activity request %w", err)
	}
	if kind != "" && kind != history.MessageKindActivity {
		return req, fmt.Errorf("work item of kind %q: %w", kind, history.ErrNewerVersion)
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("undecodable activity request: %w", err)
	}
	if req.Version > history.SchemaVersion {
		return req, fmt.Errorf("activity request of version %d, this build reads up to %d: %w", req.Version, history.SchemaVersion, history.ErrNewerVersion)
	}
	if req.InstanceID == "" || req.Name == "" {
		return req, errors.New("undecodable activity request: no instance id or activity name")
	}
	return req, nil
}
