package durable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
)

// Heartbeat tells Warren that the activity running in ctx is alive, with details (encoded
// to JSON) that say how far it got: an attempt called with WithHeartbeatTimeout(d) that
// goes d without a heartbeat is considered lost, its context is cancelled, and it fails
// with a HeartbeatTimeout failure naming the last details, so that the retry policy can
// run it again (on any worker). Whenever an attempt fails, with or without a heartbeat
// timeout, its last details go with the failure to the task's next attempt, which reads
// them with LastHeartbeat. Outside an activity it does nothing.
func Heartbeat(ctx context.Context, details any) {
	hb, _ := ctx.Value(heartbeatKey{}).(*heartbeats)
	if hb == nil {
		return
	}
	raw, err := json.Marshal(details)
	hb.mu.Lock()
	if err == nil {
		hb.details = raw
	}
	hb.mu.Unlock()
	select {
	case hb.beat <- struct{}{}:
	default:
	}
}

// LastHeartbeat decodes into v the details of the last heartbeat that an earlier attempt
// of the running activity's task recorded before it failed (by error, panic, timeout or
// heartbeat timeout), so that a retried attempt can go on from where the last one got.
// It reports false, leaving v alone, on a first attempt, when no earlier attempt sent a
// heartbeat, outside an activity, and when the details do not decode into v. An attempt
// lost with its worker (a crash: the work item is delivered again) is the same attempt,
// and its details are lost with it.
func LastHeartbeat(ctx context.Context, v any) bool {
	raw := GetActivityInfo(ctx).LastHeartbeat
	if len(raw) == 0 {
		return false
	}
	return json.Unmarshal([]byte(raw), v) == nil
}

type heartbeatKey struct{}

// heartbeats is what Heartbeat reports to the attempt's watch.
type heartbeats struct {
	beat    chan struct{}
	mu      sync.Mutex
	details json.RawMessage
}

// recorded returns the last details, or nil.
func (hb *heartbeats) recorded() json.RawMessage {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	return hb.details
}

func (hb *heartbeats) last() string {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if len(hb.details) == 0 {
		return "none"
	}
	return string(hb.details)
}

// boundedAttempt runs fn under the attempt's timeout and heartbeat timeout. The activity
// runs in a goroutine of its own, so an attempt past its bound fails at once even if the
// activity ignores its context; it runs on, and its result is dropped.
func boundedAttempt(ctx context.Context, info ActivityInfo, hb *heartbeats, fn activityFunc, input json.RawMessage) (json.RawMessage, *history.Failure) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type outcome struct {
		out     json.RawMessage
		failure *history.Failure
	}
	done := make(chan outcome, 1)
	go func() {
		out, failure := runAttempt(ctx, fn, input)
		done <- outcome{out, failure}
	}()
	var deadline, silence <-chan time.Time
	if info.Timeout > 0 {
		t := time.NewTimer(info.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	var quiet *time.Timer
	if info.HeartbeatTimeout > 0 {
		quiet = time.NewTimer(info.HeartbeatTimeout)
		defer quiet.Stop()
		silence = quiet.C
	}
	give := func(f *history.Failure) (json.RawMessage, *history.Failure) {
		cancel(errors.New(f.Message))
		return nil, f
	}
	for {
		select {
		case o := <-done:
			return o.out, o.failure
		case <-deadline:
			return give(&history.Failure{Type: timeoutType,
				Message: fmt.Sprintf("activity %q did not finish within %s (WithTimeout)", info.Name, info.Timeout)})
		case <-silence:
			return give(&history.Failure{Type: "HeartbeatTimeout", Message: fmt.Sprintf(
				"activity %q sent no heartbeat for %s (WithHeartbeatTimeout); last details: %s", info.Name, info.HeartbeatTimeout, hb.last())})
		case <-hb.beat:
			if quiet != nil {
				quiet.Reset(info.HeartbeatTimeout)
			}
		case <-ctx.Done():
			// The caller gave up (the worker's instance watch): the activity may still answer
			// at once; if it does not, the attempt fails as cancelled.
			select {
			case o := <-done:
				return o.out, o.failure
			case <-time.After(100 * time.Millisecond):
				return nil, &history.Failure{Type: "Canceled", Message: fmt.Sprintf("activity %q: %v", info.Name, context.Cause(ctx))}
			}
		}
	}
}
