package startup

import (
	"errors"
	"log/slog"
	"sync"

	"github.com/warrenhq/warren/queues"
)

// NotAnswering is the fixed phrase a readiness answer gives for a failed check of the
// store or the broker: how far the broker got when it was last dialled, when that is
// known, and never the error's text (it names hosts and topology).
func NotAnswering(err error) string {
	switch {
	case errors.Is(err, queues.ErrNoHandshake):
		return "not answering: it accepts connections but does not complete the AMQP handshake"
	case errors.Is(err, queues.ErrUnreachable):
		return "not answering: it cannot be reached"
	}
	return "not answering"
}

// ReadinessLog remembers the last error each readiness check logged, so that a probe
// every few seconds logs a failure when it begins or changes, not each time. The zero
// value is ready to use; it is safe for concurrent use.
type ReadinessLog struct {
	mu   sync.Mutex
	last map[string]string
}

// Note logs err of the check named dep when it differs from the last one noted (nil: the
// check passed).
func (rl *ReadinessLog) Note(log *slog.Logger, dep string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	rl.mu.Lock()
	if rl.last == nil {
		rl.last = map[string]string{}
	}
	was := rl.last[dep]
	rl.last[dep] = msg
	rl.mu.Unlock()
	switch {
	case msg == was:
	case err != nil:
		log.Warn("readyz: "+dep+" not answering", "err", err)
	default:
		log.Info("readyz: " + dep + " answering again")
	}
}
