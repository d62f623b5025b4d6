package history

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Large payloads. An input or output over a size (DefaultPayloadInlineMax) is kept beside
// the history, one record per instance, execution and content, and the event or message
// that carries it holds a PayloadRef instead, so that episodes, messages and the store's
// 16 MiB record limit stay out of the user's way (docs/design.md section 20). The store
// writes a payload before the episode that refers to it (CommitEpisodes), reads them back
// into the events it loads, and deletes them with their instance (Purge, PurgeInstances).

// DefaultPayloadInlineMax is the largest input or output kept inline in an event or message.
const DefaultPayloadInlineMax = 256 << 10

// PayloadVersion is the schema version of an event or request that refers to a payload:
// a build older than it would read the ref as an empty input.
const PayloadVersion = 3

// ErrPayloadNotFound is returned by [PayloadStore.GetPayloads] for a ref the store does not
// hold (its instance was purged).
var ErrPayloadNotFound = errors.New("history: payload not found")

// PayloadRef names a payload kept beside the history: the instance and execution it
// belongs to, and the SHA-256 of its bytes.
type PayloadRef struct {
	InstanceID  string `json:"instanceId" bson:"instanceId"`
	ExecutionID string `json:"executionId" bson:"executionId"`
	ID          string `json:"id" bson:"id"`
}

// Payload is a payload with its ref.
type Payload struct {
	Ref  PayloadRef
	Data []byte
}

// NewPayload is data as a payload of one execution.
func NewPayload(instanceID, executionID string, data []byte) Payload {
	sum := sha256.Sum256(data)
	return Payload{Ref: PayloadRef{InstanceID: instanceID, ExecutionID: executionID, ID: hex.EncodeToString(sum[:])}, Data: data}
}

// PayloadStore keeps large payloads beside the history.
type PayloadStore interface {
	// PutPayloads writes payloads; writing one that exists is not an error (the same ref
	// is the same content).
	PutPayloads(ctx context.Context, ps []Payload) error
	// GetPayloads reads payloads by ref; a missing one wraps ErrPayloadNotFound.
	GetPayloads(ctx context.Context, refs []PayloadRef) (map[PayloadRef][]byte, error)
}

// OffloadEvent moves ev's input and result, and those of the events it carries, to
// payloads of the execution when they are over max bytes, and returns them.
func OffloadEvent(ev *Event, instanceID, executionID string, max int) []Payload {
	var out []Payload
	if len(ev.Input) > max {
		p := NewPayload(instanceID, executionID, ev.Input)
		ev.Input, ev.InputRef = nil, &p.Ref
		out = append(out, p)
	}
	if len(ev.Result) > max {
		p := NewPayload(instanceID, executionID, ev.Result)
		ev.Result, ev.ResultRef = nil, &p.Ref
		out = append(out, p)
	}
	if len(ev.Carried) > 0 {
		carried := append([]Event(nil), ev.Carried...)
		for i := range carried {
			out = append(out, OffloadEvent(&carried[i], instanceID, executionID, max)...)
		}
		ev.Carried = carried
	}
	if len(out) > 0 && ev.Version < PayloadVersion {
		ev.Version = PayloadVersion
	}
	return out
}

// OffloadEpisode returns ep as the store keeps it: its events' inputs and results over max
// bytes as refs (ep itself, which a worker caches, keeps them inline), with the payloads
// to write first, ep.Payloads included.
func OffloadEpisode(ep *Episode, max int) (*Episode, []Payload) {
	if ep == nil {
		return nil, nil
	}
	ps := append([]Payload(nil), ep.Payloads...)
	var events []Event
	for i := range ep.Events {
		ev := ep.Events[i]
		if off := OffloadEvent(&ev, ep.InstanceID, ep.ExecutionID, max); len(off) > 0 {
			if events == nil {
				events = append([]Event(nil), ep.Events...)
			}
			events[i] = ev
			ps = append(ps, off...)
		}
	}
	if events == nil {
		return ep, ps
	}
	stored := *ep
	stored.Events = events
	return &stored, ps
}

// EventRefs lists the payloads ev refers to, with those of the events it carries.
func EventRefs(ev *Event) []PayloadRef {
	var out []PayloadRef
	if ev.InputRef != nil {
		out = append(out, *ev.InputRef)
	}
	if ev.ResultRef != nil {
		out = append(out, *ev.ResultRef)
	}
	for i := range ev.Carried {
		out = append(out, EventRefs(&ev.Carried[i])...)
	}
	return out
}

// InlineEvent puts the payloads ev refers to back in place, from data.
func InlineEvent(ev *Event, data map[PayloadRef][]byte) error {
	if ev.InputRef != nil {
		d, ok := data[*ev.InputRef]
		if !ok {
			return fmt.Errorf("%w: %s input %s", ErrPayloadNotFound, ev.Kind, ev.InputRef.ID)
		}
		ev.Input, ev.InputRef = d, nil
	}
	if ev.ResultRef != nil {
		d, ok := data[*ev.ResultRef]
		if !ok {
			return fmt.Errorf("%w: %s result %s", ErrPayloadNotFound, ev.Kind, ev.ResultRef.ID)
		}
		ev.Result, ev.ResultRef = d, nil
	}
	for i := range ev.Carried {
		if err := InlineEvent(&ev.Carried[i], data); err != nil {
			return err
		}
	}
	return nil
}

// InlineEpisodes reads the payloads the episodes' events refer to from ps, in one call,
// and puts them in place; episodes without refs cost nothing.
func InlineEpisodes(ctx context.Context, ps PayloadStore, eps []Episode) error {
	var refs []PayloadRef
	for i := range eps {
		for j := range eps[i].Events {
			refs = append(refs, EventRefs(&eps[i].Events[j])...)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	data, err := ps.GetPayloads(ctx, refs)
	if err != nil {
		return err
	}
	for i := range eps {
		for j := range eps[i].Events {
			if err := InlineEvent(&eps[i].Events[j], data); err != nil {
				return fmt.Errorf("instance %q episode %d: %w", eps[i].InstanceID, eps[i].Number, err)
			}
		}
	}
	return nil
}
