package startup

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

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

// readyTimeout bounds the checks of one /readyz.
const readyTimeout = 3 * time.Second

// Readiness answers the /readyz of the worker and the dispatcher, the same way. It
// remembers the last error each check logged, so that a probe every few seconds logs a
// failure when it begins or changes, not each time. The zero value is ready to use; it is
// safe for concurrent use.
type Readiness struct {
	mu   sync.Mutex
	last map[string]string
}

// Answer answers one GET /readyz: 200 {"status":"ready","checks":{name:"ok",…}} when every
// check passes, else 503 "not ready" with a fixed phrase for each failed one. services are
// the servers the process needs, by name ("store", "broker"), pinged within 3 s; one that
// fails is [NotAnswering] and its error is logged. problems are the process's own checks
// (the worker's heartbeat): each says what is wrong in a fixed phrase, "" when nothing is.
// The answer holds no error text, since /readyz needs no token and drivers' errors name
// hosts.
func (rd *Readiness) Answer(w http.ResponseWriter, r *http.Request, log *slog.Logger,
	services map[string]func(context.Context) error, problems map[string]func() string) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	checks := map[string]string{}
	ready := true
	for name, ping := range services {
		err := ping(ctx)
		rd.note(log, name, err)
		checks[name] = "ok"
		if err != nil {
			checks[name], ready = NotAnswering(err), false
		}
	}
	for name, problem := range problems {
		checks[name] = "ok"
		if why := problem(); why != "" {
			checks[name], ready = why, false
		}
	}
	code, status := http.StatusOK, "ready"
	if !ready {
		code, status = http.StatusServiceUnavailable, "not ready"
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

// note logs err of the check named dep when it differs from the last one noted (nil: the
// check passed).
func (rd *Readiness) note(log *slog.Logger, dep string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	rd.mu.Lock()
	if rd.last == nil {
		rd.last = map[string]string{}
	}
	was := rd.last[dep]
	rd.last[dep] = msg
	rd.mu.Unlock()
	switch {
	case msg == was:
	case err != nil:
		log.Warn("readyz: "+dep+" not answering", "err", err)
	default:
		log.Info("readyz: " + dep + " answering again")
	}
}

// Healthy answers GET /healthz: 200 while the process runs; it checks nothing else.
func Healthy(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// NotReady answers 503 {"status":"not ready","reason":reason()}: reason is a fixed phrase,
// such as [Status.Reason].
func NotReady(reason func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": reason()})
	}
}

// Starting is the endpoints of a binary that waits for its store and broker ([Wait]):
// GET /healthz is 200 and GET /readyz 503 with reason(). The binary adds its own answers
// for its other routes.
func Starting(reason func() string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", Healthy)
	mux.Handle("GET /readyz", NotReady(reason))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
