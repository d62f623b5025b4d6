package worker

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warrenhq/warren/internal/startup"
)

// Pinger is implemented by a Store or Broker that can say whether its server answers;
// /readyz uses it when present (*queues.Conn does).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Handler serves the worker's operational endpoints (the binary serves them on
// WARREN_METRICS_ADDR):
//
//	GET /healthz  200 while the process runs
//	GET /readyz   200 when the broker and the store answer and the heartbeat is current,
//	              else 503 with the reason of each check (fixed phrases: no hosts or
//	              credentials); a worker that owns no partition is ready all the same
//	GET /metrics  the Prometheus metrics
func (w *Worker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", startup.Healthy)
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		w.readiness.Answer(rw, r, w.log, map[string]func(context.Context) error{"broker": w.pingBroker, "store": w.pingStore},
			map[string]func() string{"heartbeat": w.heartbeatProblem})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.metrics.registry, promhttp.HandlerOpts{}))
	return mux
}

// heartbeatProblem says why the heartbeat is not current, or "" when it is: the worker is
// draining, has not written one yet, or the last one is older than DeadAfter (the other
// workers count it as gone).
func (w *Worker) heartbeatProblem() string {
	switch {
	case w.draining.Load():
		return "draining: the worker is leaving the fleet"
	case w.beatAt.Load() == 0:
		return "no heartbeat written yet"
	case w.heartbeatAge() > w.cfg.DeadAfter:
		return fmt.Sprintf("the last heartbeat is %s old, more than the dead-after time (%s)",
			w.heartbeatAge().Round(time.Second), w.cfg.DeadAfter)
	}
	return ""
}

// heartbeatAge is how long ago the last heartbeat was written, 0 before the first.
func (w *Worker) heartbeatAge() time.Duration {
	at := w.beatAt.Load()
	if at == 0 {
		return 0
	}
	return w.now().Sub(time.Unix(0, at))
}

func (w *Worker) pingBroker(ctx context.Context) error {
	if p, ok := w.broker.(Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// pingStore asks the store itself when it can say; otherwise a read of the (small)
// workers collection proves that it answers.
func (w *Worker) pingStore(ctx context.Context) error {
	if p, ok := w.store.(Pinger); ok {
		return p.Ping(ctx)
	}
	_, err := w.store.LiveWorkers(ctx, w.cfg.DeadAfter)
	return err
}
