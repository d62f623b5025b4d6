package memstore

import (
	"context"
	"fmt"

	"github.com/warrenhq/warren/history"
)

// CreateInstance stores a new instance, or fails with history.ErrInstanceExists.
func (s *Store) CreateInstance(ctx context.Context, inst *history.Instance) error {
	doc, err := encodeInstance(inst)
	if err != nil {
		return fmt.Errorf("memstore: create instance: %w", err)
	}
	return exec(ctx, s, Op{Kind: OpCreateInstance, InstanceID: inst.InstanceID}, func() error {
		if _, ok := s.instances[inst.InstanceID]; ok {
			return fmt.Errorf("memstore: create instance %q: %w", inst.InstanceID, history.ErrInstanceExists)
		}
		s.instances[inst.InstanceID] = doc
		return nil
	})
}

// GetInstance returns a copy of the instance, or fails with history.ErrInstanceNotFound.
func (s *Store) GetInstance(ctx context.Context, instanceID string) (*history.Instance, error) {
	if err := checkID("instance id", instanceID); err != nil {
		return nil, fmt.Errorf("memstore: get instance: %w", err)
	}
	return run(ctx, s, Op{Kind: OpGetInstance, InstanceID: instanceID}, func() (*history.Instance, error) {
		return s.instance(instanceID)
	})
}

// GetInstances returns copies of the instances that exist among ids, by id.
func (s *Store) GetInstances(ctx context.Context, ids []string) (map[string]*history.Instance, error) {
	for _, id := range ids {
		if err := checkID("instance id", id); err != nil {
			return nil, fmt.Errorf("memstore: get instances: %w", err)
		}
	}
	return run(ctx, s, Op{Kind: OpGetInstances}, func() (map[string]*history.Instance, error) {
		out := make(map[string]*history.Instance, len(ids))
		for _, id := range ids {
			if inst, err := s.instance(id); err == nil {
				out[id] = inst
			}
		}
		return out, nil
	})
}

// instance decodes a stored instance; the caller holds the lock.
func (s *Store) instance(instanceID string) (*history.Instance, error) {
	doc, ok := s.instances[instanceID]
	if !ok {
		return nil, fmt.Errorf("memstore: instance %q: %w", instanceID, history.ErrInstanceNotFound)
	}
	return decode[history.Instance](doc, defaultRegistry), nil
}

// UpdateInstance replaces the instance unless the stored version is newer
// ([history.Instance.Newer]; then history.ErrStaleInstance, nothing written). It fails with
// history.ErrInstanceNotFound when there is no such instance.
func (s *Store) UpdateInstance(ctx context.Context, inst *history.Instance) error {
	doc, err := encodeInstance(inst)
	if err != nil {
		return fmt.Errorf("memstore: update instance: %w", err)
	}
	return exec(ctx, s, Op{Kind: OpUpdateInstance, InstanceID: inst.InstanceID}, func() error {
		stored, err := s.instance(inst.InstanceID)
		if err != nil {
			return fmt.Errorf("memstore: update: %w", err)
		}
		if stored.Newer(inst) {
			return fmt.Errorf("memstore: update instance %q: stored version (execution %d, episode %d, %s) is newer than (execution %d, episode %d, %s): %w",
				inst.InstanceID, stored.Executions, stored.LastEpisode, stored.Status, inst.Executions, inst.LastEpisode, inst.Status,
				history.ErrStaleInstance)
		}
		s.instances[inst.InstanceID] = doc
		return nil
	})
}

// Purge deletes a terminal instance and the history of all its executions
// (history.ErrNotTerminal while it may still run). It happens at once, under the store's
// lock, so no execution can begin half-way through.
func (s *Store) Purge(ctx context.Context, instanceID string) error {
	if err := checkID("instance id", instanceID); err != nil {
		return fmt.Errorf("memstore: purge: %w", err)
	}
	return exec(ctx, s, Op{Kind: OpPurge, InstanceID: instanceID}, func() error {
		inst, err := s.instance(instanceID)
		if err != nil {
			return fmt.Errorf("memstore: purge: %w", err)
		}
		if !inst.Status.Terminal() {
			return fmt.Errorf("memstore: purge %q: status is %s: %w", instanceID, inst.Status, history.ErrNotTerminal)
		}
		delete(s.instances, instanceID)
		delete(s.history, instanceID)
		delete(s.payloads, instanceID)
		return nil
	})
}
