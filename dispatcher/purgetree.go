package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/warrenhq/warren/history"
)

// purgeTreeLimit bounds how many instances one recursive purge deletes, so that a request
// cannot hold the dispatcher for an unbounded tree; a bigger tree is refused before
// anything is deleted.
const purgeTreeLimit = 100_000

// errTreeTooLarge is wrapped by purgeTree's refusal of a tree over purgeTreeLimit.
var errTreeTooLarge = errors.New("too many sub-orchestrations for one recursive purge")

// purgeTree purges id and its sub-orchestrations at any depth, with their histories, and
// returns how many instances it purged. It first reads the whole tree and refuses
// (ErrNotTerminal, naming the instance) unless every instance in it has ended, so that a
// refused purge deletes nothing; then it purges the deepest instances first, so that a
// purge that fails part way leaves a parent to purge again. A sub-orchestration belongs
// to the tree by its document's parent id (any execution of the parent).
func (d *Dispatcher) purgeTree(ctx context.Context, id string) (int, error) {
	octx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
	root, err := d.store.GetInstance(octx, id)
	cancel()
	if err != nil {
		return 0, err
	}
	tree := []*history.Instance{root}
	for i := 0; i < len(tree); i++ {
		kids, err := d.children(ctx, tree[i].InstanceID, purgeTreeLimit-len(tree))
		if err != nil {
			return 0, err
		}
		tree = append(tree, kids...)
	}
	for _, doc := range tree {
		cur, err := d.current(ctx, doc)
		if err != nil {
			return 0, err
		}
		if !cur.Status.Terminal() {
			what := fmt.Sprintf("instance %q", cur.InstanceID)
			if cur.InstanceID != id {
				what += fmt.Sprintf(" (a sub-orchestration of %q)", id)
			}
			return 0, fmt.Errorf("%s is %s: %w", what, cur.Status, history.ErrNotTerminal)
		}
	}
	purged := 0
	for _, doc := range slices.Backward(tree) {
		err := d.purgeEnded(ctx, doc.InstanceID)
		switch {
		case errors.Is(err, history.ErrInstanceNotFound): // purged meanwhile
		case err != nil:
			return purged, fmt.Errorf("purging %q (%d of the tree purged): %w", doc.InstanceID, purged, err)
		default:
			purged++
		}
	}
	return purged, nil
}

// children lists the instances whose parent is id, at most limit of them (more is
// errTreeTooLarge).
func (d *Dispatcher) children(ctx context.Context, id string, limit int) ([]*history.Instance, error) {
	var out []*history.Instance
	f := history.ListFilter{ParentID: id, PageSize: 500}
	for {
		octx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
		page, next, err := d.store.ListInstances(octx, f)
		cancel()
		if err != nil {
			return nil, err
		}
		for i := range page {
			out = append(out, &page[i])
		}
		if len(out) > limit {
			return nil, fmt.Errorf("%w (more than %d)", errTreeTooLarge, purgeTreeLimit)
		}
		if next == "" {
			return out, nil
		}
		f.Cursor = next
	}
}
