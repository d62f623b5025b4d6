package history

import (
	"encoding/json"
	"errors"
	"fmt"
)

// knownKinds are the kinds this build understands.
var knownKinds = map[Kind]bool{
	ExecutionStarted: true, ExecutionCompleted: true, ExecutionFailed: true, ExecutionTerminated: true,
	ExecutionSuspended: true, ExecutionResumed: true, ContinuedAsNew: true, OrchestratorStarted: true,
	TaskScheduled: true, TaskCompleted: true, TaskFailed: true,
	SubOrchestrationCreated: true, SubOrchestrationCompleted: true, SubOrchestrationFailed: true,
	TimerCreated: true, TimerFired: true, EventRaised: true, EventSent: true, PatchMarker: true,
}

// Valid reports whether k is a kind this build knows.
func (k Kind) Valid() bool { return knownKinds[k] }

// ErrNewerVersion is wrapped by decoding errors for events written by a newer schema.
var ErrNewerVersion = errors.New("history: event written by a newer version of Warren")

// Check reports whether the event can be read by this build: a known kind and a version
// from 1 to SchemaVersion, the same for every carried event.
func (e *Event) Check() error {
	switch {
	case e.Version > SchemaVersion:
		return fmt.Errorf("%w: version %d, this build reads up to %d", ErrNewerVersion, e.Version, SchemaVersion)
	case e.Version < 1:
		return fmt.Errorf("event has no valid version (got %d)", e.Version)
	case !e.Kind.Valid():
		return fmt.Errorf("unknown event kind %q", e.Kind)
	}
	for i := range e.Carried {
		if err := e.Carried[i].Check(); err != nil {
			return fmt.Errorf("carried event %d: %w", i, err)
		}
	}
	return nil
}

// EncodeEvent returns the JSON form of ev, with the current SchemaVersion if ev has none.
func EncodeEvent(ev Event) ([]byte, error) {
	if ev.Version == 0 {
		ev.Version = SchemaVersion
	}
	if err := ev.Check(); err != nil {
		return nil, err
	}
	return json.Marshal(ev)
}

// DecodeEvent reads one event from JSON. Garbage, an unknown kind, a missing version or a
// newer one (errors.Is ErrNewerVersion) are errors; it never panics.
func DecodeEvent(data []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return Event{}, fmt.Errorf("decoding event: %w", err)
	}
	if err := ev.Check(); err != nil {
		return Event{}, fmt.Errorf("decoding event: %w", err)
	}
	return ev, nil
}

// EncodeEvents returns the JSON array of evs.
func EncodeEvents(evs []Event) ([]byte, error) {
	out := make([]Event, len(evs))
	for i, ev := range evs {
		if ev.Version == 0 {
			ev.Version = SchemaVersion
		}
		if err := ev.Check(); err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out[i] = ev
	}
	return json.Marshal(out)
}

// DecodeEvents reads a JSON array of events, checking each like DecodeEvent.
func DecodeEvents(data []byte) ([]Event, error) {
	var evs []Event
	if err := json.Unmarshal(data, &evs); err != nil {
		return nil, fmt.Errorf("decoding events: %w", err)
	}
	for i := range evs {
		if err := evs[i].Check(); err != nil {
			return nil, fmt.Errorf("decoding events: event %d: %w", i, err)
		}
	}
	return evs, nil
}
