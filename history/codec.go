package history

import (
	"encoding/json"
	"errors"
	"fmt"
)

// BaseVersion is the version of an event that uses nothing added after version 1: what
// writers stamp unless they use something newer (a payload ref: PayloadVersion).
const BaseVersion = 1

// kindVersions are the kinds this build understands, each with the schema version that
// introduced it: an event is written with its kind's version (VersionOf), so that a build
// one version older reads every event whose kind it knows.
var kindVersions = map[Kind]int{
	ExecutionStarted: 1, ExecutionCompleted: 1, ExecutionFailed: 1, ExecutionTerminated: 1,
	ExecutionSuspended: 1, ExecutionResumed: 1, ContinuedAsNew: 1, OrchestratorStarted: 1,
	TaskScheduled: 1, TaskCompleted: 1, TaskFailed: 1,
	SubOrchestrationCreated: 1, SubOrchestrationCompleted: 1, SubOrchestrationFailed: 1,
	TimerCreated: 1, TimerFired: 1, EventRaised: 1, EventSent: 1, PatchMarker: 1,
	ExecutionRewound: 2,
}

// Valid reports whether k is a kind this build knows.
func (k Kind) Valid() bool { return kindVersions[k] != 0 }

// VersionOf is the schema version an event of kind k is written with: the version that
// introduced the kind (SchemaVersion for a kind this build does not know).
func VersionOf(k Kind) int {
	if v := kindVersions[k]; v != 0 {
		return v
	}
	return SchemaVersion
}

// ErrNewerVersion is wrapped by the errors for an event this build cannot read because a
// newer version of Warren wrote it: a version above SchemaVersion, or a kind this build does
// not know. A worker hands what holds one on to a newer worker when one is live, and
// dead-letters it otherwise (docs/design.md section 19).
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
		return fmt.Errorf("%w: unknown event kind %q", ErrNewerVersion, e.Kind)
	}
	for i := range e.Carried {
		if err := e.Carried[i].Check(); err != nil {
			return fmt.Errorf("carried event %d: %w", i, err)
		}
	}
	return nil
}

// CheckEpisodes reports the first event of eps this build cannot read (errors.Is
// ErrNewerVersion when a newer Warren wrote it).
func CheckEpisodes(eps []Episode) error {
	for i := range eps {
		for j := range eps[i].Events {
			if err := eps[i].Events[j].Check(); err != nil {
				return fmt.Errorf("episode %d, event %d: %w", eps[i].Number, j, err)
			}
		}
	}
	return nil
}

// EncodeEvent returns the JSON form of ev, with its kind's version (VersionOf) if ev has
// none.
func EncodeEvent(ev Event) ([]byte, error) {
	if ev.Version == 0 {
		ev.Version = VersionOf(ev.Kind)
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
			ev.Version = VersionOf(ev.Kind)
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
