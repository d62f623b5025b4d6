// Package pause waits for a while unless a context ends first: the one timer-and-select
// that the worker's loops, the store's settle and the dispatcher's collector share.
package pause

import (
	"context"
	"time"
)

// For waits for d; it returns ctx.Err() when ctx ends first, nil otherwise.
func For(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
