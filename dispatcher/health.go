package dispatcher

import (
	"context"
	"net/http"
	"time"
)

// healthz says the process is up; it checks nothing else.
func (d *Dispatcher) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether the store and the broker answer: 200 when both do, 503 naming the
// one that does not.
func (d *Dispatcher) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "broker": "ok"}
	ready := true
	if err := d.pingStore(ctx); err != nil {
		checks["store"], ready = err.Error(), false
	}
	if err := d.pingBroker(ctx); err != nil {
		checks["broker"], ready = err.Error(), false
	}
	code := http.StatusOK
	status := "ready"
	if !ready {
		code, status = http.StatusServiceUnavailable, "not ready"
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
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
	// Publishing to a queue the topology declares (and nobody consumes) would leave
	// messages behind; without a Ping the broker is taken as ready.
	return nil
}
