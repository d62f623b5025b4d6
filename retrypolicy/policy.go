// Package retrypolicy describes how a failed activity or sub-orchestration is retried: how
// many attempts, how long to wait between them, and which errors are worth retrying.
//
// The wait before each retry ([Policy.Delay]) is a pure function of the [Policy] and the
// attempt number (no jitter, no clock), so an orchestration that is replayed computes exactly the waits it
// computed the first time; inside an orchestration each wait is a durable timer.
//
//	p := retrypolicy.Policy{MaxAttempts: 3, FirstInterval: time.Second, BackoffCoefficient: 2}
//	p.Delay(1) // 1s: after attempt 1 failed
//	p.Delay(2) // 2s: after attempt 2 failed
package retrypolicy

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Policy says how a failed task is retried. The zero value is invalid: MaxAttempts and
// FirstInterval are required.
type Policy struct {
	// MaxAttempts is the total number of attempts, the first included (at least 1).
	MaxAttempts int
	// FirstInterval is the wait after the first failed attempt (more than 0).
	FirstInterval time.Duration
	// BackoffCoefficient multiplies the wait after every further failure; 0 means 1 (a
	// constant wait), otherwise it must be at least 1.
	BackoffCoefficient float64
	// MaxInterval caps a single wait; 0 means no cap.
	MaxInterval time.Duration
	// RetryTimeout bounds the time from the first attempt to the start of the last retry;
	// 0 means no bound. A retry whose wait would end later is not made.
	RetryTimeout time.Duration
	// Handle, if set, decides whether an error is worth another attempt. It is code, not
	// data: it is not stored anywhere, and replay calls it again with the same error.
	Handle func(error) bool
}

// Validate reports what is wrong with the policy, all problems at once.
func (p Policy) Validate() error {
	var errs []error
	if p.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("MaxAttempts must be at least 1 (got %d)", p.MaxAttempts))
	}
	if p.FirstInterval <= 0 {
		errs = append(errs, fmt.Errorf("FirstInterval must be more than 0 (got %v)", p.FirstInterval))
	}
	if p.BackoffCoefficient != 0 && (p.BackoffCoefficient < 1 || math.IsNaN(p.BackoffCoefficient) || math.IsInf(p.BackoffCoefficient, 0)) {
		errs = append(errs, fmt.Errorf("BackoffCoefficient must be 0 (constant) or a finite number of at least 1 (got %v)", p.BackoffCoefficient))
	}
	if p.MaxInterval < 0 {
		errs = append(errs, fmt.Errorf("MaxInterval must not be negative (got %v)", p.MaxInterval))
	} else if p.MaxInterval > 0 && p.MaxInterval < p.FirstInterval {
		errs = append(errs, fmt.Errorf("MaxInterval (%v) must not be less than FirstInterval (%v)", p.MaxInterval, p.FirstInterval))
	}
	if p.RetryTimeout < 0 {
		errs = append(errs, fmt.Errorf("RetryTimeout must not be negative (got %v)", p.RetryTimeout))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid retry policy: %w", errors.Join(errs...))
}

// Delay is the wait after attempt number attempt (from 1) has failed, before the next one:
// FirstInterval × BackoffCoefficient^(attempt-1), capped at MaxInterval. It depends on
// nothing but the policy and attempt. It returns 0 for attempt < 1 or an invalid policy.
func (p Policy) Delay(attempt int) time.Duration {
	if attempt < 1 || p.Validate() != nil {
		return 0
	}
	coefficient := p.BackoffCoefficient
	if coefficient == 0 {
		coefficient = 1
	}
	maxInterval := p.MaxInterval
	if maxInterval == 0 {
		maxInterval = time.Duration(math.MaxInt64)
	}
	// An exponential back-off without randomisation and without an elapsed-time limit is a
	// pure sequence: stepping it attempt times from a reset gives the same value every time.
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(p.FirstInterval),
		backoff.WithRandomizationFactor(0),
		backoff.WithMultiplier(coefficient),
		backoff.WithMaxInterval(maxInterval),
		backoff.WithMaxElapsedTime(0),
	)
	var d time.Duration
	for i := 0; i < attempt; i++ {
		d = b.NextBackOff()
		if d >= maxInterval {
			return maxInterval
		}
	}
	return d
}
