package mongo

import (
	"context"
	"fmt"

	"github.com/warrenhq/warren/history"
)

// CreateInstances inserts the new instances with one unordered insertMany, so that each
// is created or refused on its own: errs[i] wraps history.ErrInstanceExists when its id
// was taken, history.ErrInvalidArgument or history.ErrTooLarge when it was not sent, and
// is another error otherwise (then it may or may not have been created).
func (s *Store) CreateInstances(ctx context.Context, insts []*history.Instance) []error {
	errs := make([]error, len(insts))
	docs := make([]any, 0, len(insts))
	sent := make([]int, 0, len(insts)) // sent[j] is the index in insts of docs[j]
	for i, inst := range insts {
		doc, err := encodeInstance(inst, s.writerID)
		if err != nil {
			errs[i] = fmt.Errorf("create instance: %w", err)
			continue
		}
		docs = append(docs, doc)
		sent = append(sent, i)
	}
	name := func(j int) string { return fmt.Sprintf("create instance %q", insts[sent[j]].InstanceID) }
	for j, err := range insertEach(ctx, s.instances, docs, history.ErrInstanceExists, name) {
		errs[sent[j]] = err
	}
	return errs
}
