package dispatcher

import (
	"context"
	"net/http"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/internal/startup"
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
		d.readiness.Note(d.log, dep.name, err)
		checks[dep.name] = "ok"
		if err != nil {
			checks[dep.name], ready = startup.NotAnswering(err), false
		}
	}
	code := http.StatusOK
	status := "ready"
	if !ready {
		code, status = http.StatusServiceUnavailable, "not ready"
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
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
		writeJSON(w, http.StatusServiceUnavailable, errorf(http.StatusServiceUnavailable, api.CodeUnavailable,
			"the dispatcher is not ready ("+reason()+"); try again later").body)
	})
	return mux
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
