package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warrenhq/warren/history"
)

// watchInstance returns ctx, cancelled once the instance's execution that scheduled req
// has ended (terminated, failed elsewhere, purged, or a newer execution began): the
// instance document is read every ActivityCheck while the activity runs, so an activity
// shorter than that costs no read. unwatch stops the watch and returns why ctx was
// cancelled, or nil. The document may lag its history by about a second (DocLag).
func (w *Worker) watchInstance(ctx context.Context, req history.ActivityRequest) (_ context.Context, unwatch func() error) {
	if w.stepped {
		return ctx, func() error { return nil } // Steps starts no goroutine (the simulation)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.cfg.ActivityCheck)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if why := w.executionEnded(ctx, req); why != nil {
				w.log.Info("cancelling an activity whose execution has ended", "activity", req.Name, "instance", req.InstanceID, "why", why)
				cancel(why)
				return
			}
		}
	}()
	return ctx, func() error {
		close(stop)
		<-done
		cause := context.Cause(ctx)
		cancel(nil)
		if errors.Is(cause, errExecutionEnded) {
			return cause
		}
		return nil
	}
}

// errExecutionEnded is wrapped by the cause of a watched activity's cancellation.
var errExecutionEnded = errors.New("its execution has ended")

// executionEnded reads the instance document and says why req's execution has ended, or
// nil when it has not or the store does not answer (the next tick asks again).
func (w *Worker) executionEnded(ctx context.Context, req history.ActivityRequest) error {
	rctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	inst, err := w.store.GetInstance(rctx, req.InstanceID)
	switch {
	case errors.Is(err, history.ErrInstanceNotFound):
		return fmt.Errorf("%w: instance %q was purged", errExecutionEnded, req.InstanceID)
	case err != nil:
		return nil
	case inst.ExecutionID != req.ExecutionID:
		return fmt.Errorf("%w: instance %q runs another execution now", errExecutionEnded, req.InstanceID)
	case inst.Status.Terminal() || inst.Status == history.StatusContinuedAsNew:
		return fmt.Errorf("%w: instance %q is %s", errExecutionEnded, req.InstanceID, inst.Status)
	}
	return nil
}
