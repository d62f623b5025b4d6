package memstore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
)

// OpCreateInstances is the kind of a CreateInstances for Options.Faults, asked once per
// instance.
const OpCreateInstances = "CreateInstances"

// CreateInstances stores each new instance on its own: errs[i] wraps
// history.ErrInstanceExists when its id is taken. A fault is asked once per instance, as
// UpdateInstances does per document.
func (s *Store) CreateInstances(ctx context.Context, insts []*history.Instance) []error {
	errs := make([]error, len(insts))
	faults := make([]Fault, len(insts))
	docs := make([]bson.Raw, len(insts))
	for i, inst := range insts {
		doc, err := encodeInstance(inst)
		if err != nil {
			errs[i] = fmt.Errorf("memstore: create instances: %w", err)
			continue
		}
		if err := ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("memstore: create instance %q: %w", inst.InstanceID, err)
			continue
		}
		docs[i] = doc
		faults[i] = s.fault(Op{Kind: OpCreateInstances, InstanceID: inst.InstanceID})
	}
	s.mu.Lock()
	for i, inst := range insts {
		if errs[i] != nil || faults[i].Err != nil && !faults[i].AfterEffect {
			continue
		}
		if _, ok := s.instances[inst.InstanceID]; ok {
			errs[i] = fmt.Errorf("memstore: create instance %q: %w", inst.InstanceID, history.ErrInstanceExists)
			continue
		}
		s.instances[inst.InstanceID] = docs[i]
	}
	s.mu.Unlock()
	for i, inst := range insts {
		if faults[i].Err != nil { // the reply is lost, whatever happened
			errs[i] = faultError(Op{Kind: OpCreateInstances, InstanceID: inst.InstanceID}, faults[i])
		}
	}
	return errs
}
