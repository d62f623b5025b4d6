package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/warrenhq/warren/history"
)

// UpdateInstances writes the read-model fields of each document unless the stored version
// is newer; a fault is asked once per document, like CommitEpisodes does per episode.
func (s *Store) UpdateInstances(ctx context.Context, docs []*history.Instance) []error {
	errs := make([]error, len(docs))
	faults := make([]Fault, len(docs))
	for i, inst := range docs {
		if _, err := encodeInstance(inst); err != nil {
			errs[i] = fmt.Errorf("memstore: update instances: %w", err)
			continue
		}
		if err := ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("memstore: update instance %q: %w", inst.InstanceID, err)
			continue
		}
		faults[i] = s.fault(Op{Kind: OpUpdateInstances, InstanceID: inst.InstanceID})
	}
	s.mu.Lock()
	for i, inst := range docs {
		if errs[i] != nil || faults[i].Err != nil && !faults[i].AfterEffect {
			continue
		}
		errs[i] = s.setReadModel(inst)
	}
	s.mu.Unlock()
	for i, inst := range docs {
		if faults[i].Err != nil {
			errs[i] = faultError(Op{Kind: OpUpdateInstances, InstanceID: inst.InstanceID}, faults[i])
		}
	}
	return errs
}

// setReadModel writes inst's read-model fields over the stored document of the same
// incarnation; the caller holds the lock.
func (s *Store) setReadModel(inst *history.Instance) error {
	stored, err := s.instance(inst.InstanceID)
	if err != nil {
		return fmt.Errorf("memstore: update instances: %w", err)
	}
	if !history.SameIncarnation(stored, inst) {
		return fmt.Errorf("memstore: update instance %q created at %s: the stored one was created at %s: %w",
			inst.InstanceID, inst.CreatedAt.Format(time.RFC3339Nano), stored.CreatedAt.Format(time.RFC3339Nano), history.ErrInstanceNotFound)
	}
	if stored.Newer(inst) {
		return fmt.Errorf("memstore: update instance %q: stored version (execution %d, episode %d, %s) is newer: %w",
			inst.InstanceID, stored.Executions, stored.LastEpisode, stored.Status, history.ErrStaleInstance)
	}
	stored.SetReadModel(inst.ReadModel())
	doc, err := encodeInstance(stored)
	if err != nil {
		return fmt.Errorf("memstore: update instances: %w", err)
	}
	s.instances[inst.InstanceID] = doc
	return nil
}

// LoadHistories returns copies of the committed episodes of each execution, in order.
func (s *Store) LoadHistories(ctx context.Context, refs []history.ExecutionRef) (map[history.ExecutionRef][]history.Episode, error) {
	for _, r := range refs {
		if err := checkID("instance id", r.InstanceID); err != nil {
			return nil, fmt.Errorf("memstore: load histories: %w", err)
		}
		if err := checkID("execution id", r.ExecutionID); err != nil {
			return nil, fmt.Errorf("memstore: load histories of %q: %w", r.InstanceID, err)
		}
	}
	return run(ctx, s, Op{Kind: OpLoadHistories}, func() (map[history.ExecutionRef][]history.Episode, error) {
		out := map[history.ExecutionRef][]history.Episode{}
		for _, r := range refs {
			eps, err := s.episodes(r.InstanceID, r.ExecutionID)
			if err != nil {
				return nil, err
			}
			if len(eps) > 0 {
				out[r] = eps
			}
		}
		return out, nil
	})
}
