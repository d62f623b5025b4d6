package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/internal/record"
)

// PutPayloads keeps copies of the payloads (no faults are injected into payload calls).
func (s *Store) PutPayloads(ctx context.Context, ps []history.Payload) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: put payloads: %w", err)
	}
	for _, p := range ps {
		if err := checkID("instance id", p.Ref.InstanceID); err != nil {
			return fmt.Errorf("memstore: put payloads: %w", err)
		}
		if err := checkID("execution id", p.Ref.ExecutionID); err != nil {
			return fmt.Errorf("memstore: put payloads: %w", err)
		}
		if len(p.Data) > record.MaxBytes-1024 {
			return fmt.Errorf("memstore: put payloads: %w: payload of %q is %d bytes", history.ErrTooLarge, p.Ref.InstanceID, len(p.Data))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putPayloads(ps)
	return nil
}

// putPayloads stores ps; the caller holds the lock.
func (s *Store) putPayloads(ps []history.Payload) {
	for _, p := range ps {
		byRef := s.payloads[p.Ref.InstanceID]
		if byRef == nil {
			byRef = map[history.PayloadRef][]byte{}
			s.payloads[p.Ref.InstanceID] = byRef
		}
		byRef[p.Ref] = slices.Clone(p.Data)
	}
}

// GetPayloads returns copies of the payloads asked for.
func (s *Store) GetPayloads(ctx context.Context, refs []history.PayloadRef) (map[history.PayloadRef][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: get payloads: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getPayloads(refs)
}

// getPayloads reads payloads; the caller holds the lock.
func (s *Store) getPayloads(refs []history.PayloadRef) (map[history.PayloadRef][]byte, error) {
	out := map[history.PayloadRef][]byte{}
	for _, r := range refs {
		d, ok := s.payloads[r.InstanceID][r]
		if !ok {
			return nil, fmt.Errorf("memstore: get payloads: %w: %s of %q/%s", history.ErrPayloadNotFound, r.ID, r.InstanceID, r.ExecutionID)
		}
		out[r] = slices.Clone(d)
	}
	return out, nil
}

// lockedPayloads is the store's payloads read under a lock the caller holds.
type lockedPayloads struct{ s *Store }

func (l lockedPayloads) PutPayloads(_ context.Context, ps []history.Payload) error {
	l.s.putPayloads(ps)
	return nil
}

func (l lockedPayloads) GetPayloads(_ context.Context, refs []history.PayloadRef) (map[history.PayloadRef][]byte, error) {
	return l.s.getPayloads(refs)
}
