package dispatcher

import (
	"context"
	"errors"

	"github.com/warrenhq/warren/history"
)

// The instance document is a read model that workers write after the history it reflects
// (history/readmodel.go), so a document that has not ended may be behind an execution that
// has. A decision that refuses or allows on the status (a second start, a purge, a signal)
// asks current; the status route answers from the document alone.

// current returns doc as the history of its execution says it is: doc itself when it has
// ended (an ended execution takes no more episodes) or when the history has nothing newer.
func (d *Dispatcher) current(ctx context.Context, doc *history.Instance) (*history.Instance, error) {
	if doc.Status.Terminal() {
		return doc, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
	defer cancel()
	eps, err := d.store.LoadHistory(ctx, doc.InstanceID, doc.ExecutionID)
	if err != nil {
		return nil, err
	}
	return history.Reconcile(doc, eps), nil
}

// catchUp writes cur, the reconciled version of doc, when it is ahead of doc: the store's
// Purge goes by the stored document's status. A stored version newer still (the worker's
// own write landed meanwhile) is as good.
func (d *Dispatcher) catchUp(ctx context.Context, doc, cur *history.Instance) error {
	if cur == doc {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
	defer cancel()
	if err := d.store.UpdateInstance(ctx, cur); err != nil && !errors.Is(err, history.ErrStaleInstance) {
		return err
	}
	return nil
}
