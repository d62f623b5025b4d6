// Package startup lets a Warren binary start while its store or broker does not answer.
// [Wait] opens them and, while it cannot, says why in a fixed phrase ([Status.Reason]) (a readiness answer
// must not name hosts or credentials), logs it every few seconds, probes the broker so that
// a wedged one (it accepts TCP but never completes the AMQP handshake) reads differently
// from one that is down, and tries again with backoff, until they answer, the startup
// timeout passes or ctx ends (a SIGTERM, which ends the wait at once).
//
//	var st startup.Status // st.Reason() for the readiness answer
//	w, err := startup.Wait(ctx, startup.Options{AMQPURL: cfg.AMQPURL, Logger: log, Status: &st},
//		func(ctx context.Context) (*worker.Worker, error) { return worker.Open(ctx, cfg, r) }, nil)
package startup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/warrenhq/warren/internal/config"
	"github.com/warrenhq/warren/internal/hubconn"
	"github.com/warrenhq/warren/queues"
)

const (
	// Grace is how long past an attempt's deadline Wait waits for open to report why it
	// did not finish: an AMQP handshake runs out its own timeout, not its context's.
	Grace = time.Second
	// AttemptTimeout bounds one try of open; a binary that waits tries again after it.
	AttemptTimeout = 30 * time.Second
	// LogEvery is how often a binary that still waits logs why.
	LogEvery = 10 * time.Second
	// maxRetryDelay caps the backoff between tries of open and between probes.
	maxRetryDelay = 5 * time.Second
)

// Options say what Wait waits for and where it reports.
type Options struct {
	// AMQPURL is the broker (comma-separated nodes of a cluster) to probe while waiting.
	AMQPURL string
	// Timeout ends the wait with an error; 0 waits until ctx ends.
	Timeout time.Duration
	// Logger receives why the binary waits, when the reason changes and every LogEvery.
	Logger *slog.Logger
	// Status, when set, follows the wait, for a readiness answer.
	Status *Status
	// ProbeTimeout bounds one probe of the broker, TCP connect and AMQP handshake (default
	// queues.DefaultDialTimeout, as a dial of the binary's own).
	ProbeTimeout time.Duration
}

// Wait runs open until it succeeds and returns what it opened. A try that fails because a
// service does not answer (a deadline, a refused or silent connection) is tried again
// after a backoff; any other error (a refused password, a hub with another partition
// count) is returned at once, as is the error when o.Timeout passes, which names the
// setting to raise. When ctx ends Wait returns at once with ctx's error; closeLate, when
// set, closes what an abandoned try of open returns later.
func Wait[T any](ctx context.Context, o Options, open func(context.Context) (T, error), closeLate func(T)) (T, error) {
	var zero T
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Status == nil {
		o.Status = new(Status)
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = queues.DefaultDialTimeout
	}
	began := time.Now()
	pctx, stopProbing := context.WithCancel(ctx)
	probing := make(chan struct{})
	go func() { defer close(probing); probe(pctx, o, began) }()
	defer func() { stopProbing(); <-probing }()

	delay := 500 * time.Millisecond
	for {
		timeout, last := AttemptTimeout, false
		if o.Timeout > 0 {
			if left := o.Timeout - time.Since(began); left <= timeout {
				timeout, last = max(left, time.Millisecond), true
			}
		}
		v, err, abandoned := attempt(ctx, timeout, open, closeLate)
		if abandoned {
			err = fmt.Errorf("%w: no answer from the broker at %s", hubconn.ErrBroker, config.Redact(o.AMQPURL))
		}
		switch {
		case err == nil:
			o.Status.set(func(s *Status) { s.started = true })
			if time.Since(began) > time.Second {
				o.Logger.Info("the store and the broker answer; starting", "waited", time.Since(began).Round(time.Millisecond))
			}
			return v, nil
		case ctx.Err() != nil:
			return zero, ctx.Err()
		case !transient(err) && !abandoned:
			return zero, err
		case last || (o.Timeout > 0 && time.Since(began)+delay >= o.Timeout):
			return zero, fmt.Errorf("did not start within %s (--startup-timeout, WARREN_STARTUP_TIMEOUT): %w", o.Timeout, err)
		}
		reason := reasonOf(err)
		o.Status.set(func(s *Status) { s.open = reason })
		o.Logger.Warn("not ready; trying again", "reason", reason, "waited", time.Since(began).Round(time.Second), "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return zero, ctx.Err()
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// probe asks the broker for a handshake until ctx ends, so that the Status says whether it
// is down or wedged while open waits on it, and logs that when it changes or every LogEvery.
func probe(ctx context.Context, o Options, began time.Time) {
	delay := 500 * time.Millisecond
	var said string
	var saidAt time.Time
	for {
		err := queues.Probe(ctx, o.AMQPURL, o.ProbeTimeout)
		if ctx.Err() != nil {
			return
		}
		reason := ""
		if err != nil {
			reason = reasonOf(err)
		}
		o.Status.set(func(s *Status) { s.broker = reason })
		switch {
		case reason != "" && (reason != said || time.Since(saidAt) >= LogEvery):
			o.Logger.Warn("not ready", "reason", reason, "waited", time.Since(began).Round(time.Second), "err", err)
			said, saidAt = reason, time.Now()
		case reason == "" && said != "":
			o.Logger.Info("the broker answers again")
			said = ""
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// transient reports whether err says a service did not answer (so trying again may help),
// rather than that it answered no.
func transient(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, queues.ErrUnreachable) ||
		errors.Is(err, queues.ErrNoHandshake) || (errors.As(err, &ne) && !queues.IsAccessRefused(err))
}

// Within runs open once with a deadline of timeout and returns what it opened, or an error
// that names the setting to raise and (redacted) the broker that did not answer. It does
// not wait for open beyond a Grace after the deadline (nor at all after ctx ends); closeLate,
// when set, closes what open returns after Within has given up on it.
func Within[T any](ctx context.Context, timeout time.Duration, amqpURL string, open func(context.Context) (T, error), closeLate func(T)) (T, error) {
	v, err, abandoned := attempt(ctx, timeout, open, closeLate)
	switch {
	case abandoned:
		// The store's driver gives up with its context; what outlives the grace is the
		// broker's dial or handshake.
		return v, fmt.Errorf("did not start within %s (--startup-timeout, WARREN_STARTUP_TIMEOUT): no answer from the broker at %s",
			timeout, config.Redact(amqpURL))
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return v, fmt.Errorf("did not start within %s (--startup-timeout, WARREN_STARTUP_TIMEOUT): %w", timeout, err)
	}
	return v, err
}

// attempt runs open with a deadline of timeout. It reports abandoned when open did not
// return within a Grace past the deadline, or when ctx ended first.
func attempt[T any](ctx context.Context, timeout time.Duration, open func(context.Context) (T, error), closeLate func(T)) (v T, err error, abandoned bool) {
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
	select {
	case o := <-done:
		return o.v, o.err, false
	case <-sctx.Done():
	}
	if ctx.Err() == nil {
		grace := time.NewTimer(Grace)
		defer grace.Stop()
		select {
		case o := <-done:
			return o.v, o.err, false
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
	return v, ctx.Err(), true
}
