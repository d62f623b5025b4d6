package dispatcher

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/queues"
)

// healthz says the process is up; it checks nothing else.
func (d *Dispatcher) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether the store and the broker answer: 200 when both do, 503 naming the
// one that does not. The answer is a fixed phrase per dependency, since /readyz needs no
// token and the drivers' errors name hosts and topology; the detail goes to the log, once
// per change.
func (d *Dispatcher) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	for _, dep := range []struct {
		name string
		ping func(context.Context) error
	}{{"store", d.pingStore}, {"broker", d.pingBroker}} {
		err := dep.ping(ctx)
		d.readiness.note(d.log, dep.name, err)
		checks[dep.name] = "ok"
		if err != nil {
			checks[dep.name], ready = notAnswering(err), false
		}
	}
	code := http.StatusOK
	status := "ready"
	if !ready {
		code, status = http.StatusServiceUnavailable, "not ready"
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

// notAnswering is the fixed phrase of a failed check: how far the broker got when it was
// last dialled, when that is known.
func notAnswering(err error) string {
	switch {
	case errors.Is(err, queues.ErrNoHandshake):
		return "not answering: it accepts connections but does not complete the AMQP handshake"
	case errors.Is(err, queues.ErrUnreachable):
		return "not answering: it cannot be reached"
	}
	return "not answering"
}

// Starting answers for a dispatcher that is not open yet because its store or broker does
// not answer (the binary serves it while it waits): /healthz is 200, /readyz 503 with
// reason(), a fixed phrase, and every other route 503, so that a client retries.
func Starting(reason func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": reason()})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, errorf(http.StatusServiceUnavailable, client.CodeUnavailable,
			"the dispatcher is not ready ("+reason()+"); try again later").body)
	})
	return mux
}

// readiness remembers the last error each dependency's check logged, so that a probe
// every few seconds logs a failure when it begins or changes, not each time.
type readiness struct {
	mu   sync.Mutex
	last map[string]string
}

func (rd *readiness) note(log *slog.Logger, dep string, err error) {
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

func (d *Dispatcher) pingStore(ctx context.Context) error {
	if p, ok := d.store.(Pinger); ok {
		return p.Ping(ctx)
	}
	// A read of the (small) workers collection proves the store answers.
	_, err := d.store.LiveWorkers(ctx, time.Second)
	return err
}

func (d *Dispatcher) pingBroker(ctx context.Context) error {
	if p, ok := d.broker.(Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}
