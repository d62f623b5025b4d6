package dispatcher

import (
	"context"
	"net/http"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/internal/startup"
)

// readyz says whether the store and the broker answer: 200 when both do, 503 naming the
// one that does not ([startup.Readiness.Answer]).
func (d *Dispatcher) readyz(w http.ResponseWriter, r *http.Request) {
	d.readiness.Answer(w, r, d.log, map[string]func(context.Context) error{"store": d.pingStore, "broker": d.pingBroker}, nil)
}

// Starting answers for a dispatcher that is not open yet because its store or broker does
// not answer (the binary serves it while it waits): /healthz is 200, /readyz 503 with
// reason(), a fixed phrase, and every other route 503, so that a client retries.
func Starting(reason func() string) http.Handler {
	mux := startup.Starting(reason)
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
