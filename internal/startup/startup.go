// Package startup bounds how long a Warren binary may take to open its store and broker.
// An Open honours its context, but not at every instant: an AMQP handshake with a broker
// that accepts the connection and says nothing runs out its own timeout of a few seconds.
// So Within does not wait for open beyond a short grace after the deadline (none after ctx
// ends, a SIGTERM), and what open returns late is closed.
//
//	w, err := startup.Within(ctx, 60*time.Second, cfg.AMQPURL,
//		func(ctx context.Context) (*worker.Worker, error) { return worker.Open(ctx, cfg, r) }, nil)
package startup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warrenhq/warren/internal/config"
)

// Grace is how long past the deadline Within waits for open to report why it did not finish.
const Grace = time.Second

// Within runs open with a deadline of timeout and returns what it opened, or an error that
// names the setting to raise and (redacted) the broker that did not answer. closeLate, when
// set, closes what open returns after Within has given up on it.
func Within[T any](ctx context.Context, timeout time.Duration, amqpURL string, open func(context.Context) (T, error), closeLate func(T)) (T, error) {
	sctx, cancel := context.WithTimeout(ctx, timeout)
	type opened struct {
		v   T
		err error
	}
	done := make(chan opened, 1)
	go func() {
		defer cancel()
		v, err := open(sctx)
		done <- opened{v, err}
	}()
	deadlineErr := func(err error) error {
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("did not start within %s (--startup-timeout, WARREN_STARTUP_TIMEOUT): %w", timeout, err)
		}
		return err
	}
	select {
	case o := <-done:
		return o.v, deadlineErr(o.err)
	case <-sctx.Done():
	}
	if ctx.Err() == nil {
		grace := time.NewTimer(Grace)
		defer grace.Stop()
		select {
		case o := <-done:
			return o.v, deadlineErr(o.err)
		case <-grace.C:
		case <-ctx.Done():
		}
	}
	if closeLate != nil {
		go func() {
			if o := <-done; o.err == nil {
				closeLate(o.v)
			}
		}()
	}
	var zero T
	// The store's driver gives up with its context; what outlives the grace is the broker's
	// dial or handshake.
	return zero, fmt.Errorf("did not start within %s (--startup-timeout, WARREN_STARTUP_TIMEOUT): no answer from the broker at %s",
		timeout, config.Redact(amqpURL))
}
