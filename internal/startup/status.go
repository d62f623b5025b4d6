package startup

import (
	"errors"
	"sync"

	"github.com/warrenhq/warren/internal/hubconn"
	"github.com/warrenhq/warren/queues"
)

// The reasons a binary gives for not being ready yet: fixed phrases, without hosts or
// credentials, since a readiness endpoint answers without a token.
const (
	ReasonStarting          = "starting: opening the store and the broker"
	ReasonBrokerUnreachable = "waiting for the broker: it cannot be reached"
	ReasonBrokerNoHandshake = "waiting for the broker: it accepts connections but does not complete the AMQP handshake"
	ReasonBrokerRefused     = "waiting for the broker: it refused the credentials"
	ReasonBrokerSilent      = "waiting for the broker: it does not answer"
	ReasonStoreSilent       = "waiting for the store: it does not answer"
	ReasonUnknown           = "waiting: opening the store and the broker failed (see the log)"
)

// Status follows a Wait: why the binary is not ready, for its readiness answer. The zero
// value is ready to use; it is safe for concurrent use.
type Status struct {
	mu      sync.Mutex
	broker  string // the last probe's reason, "" when the broker answered it
	open    string // the last failed try's reason
	started bool
}

// Reason is one of the Reason* phrases, or "" once Wait has opened what it waited for. A
// broker the probe finds down or wedged is named first: it is the more precise reason.
func (s *Status) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.started:
		return ""
	case s.broker != "":
		return s.broker
	case s.open != "":
		return s.open
	}
	return ReasonStarting
}

func (s *Status) set(f func(*Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// reasonOf maps an error of a probe or of a try of open to its phrase.
func reasonOf(err error) string {
	switch {
	case queues.IsAccessRefused(err):
		return ReasonBrokerRefused
	case errors.Is(err, queues.ErrNoHandshake):
		return ReasonBrokerNoHandshake
	case errors.Is(err, queues.ErrUnreachable):
		return ReasonBrokerUnreachable
	case errors.Is(err, hubconn.ErrBroker):
		return ReasonBrokerSilent
	case errors.Is(err, hubconn.ErrStore):
		return ReasonStoreSilent
	}
	return ReasonUnknown
}
