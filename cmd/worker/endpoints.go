package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/warrenhq/warren/internal/startup"
)

// endpoints serves the worker's /healthz, /readyz and /metrics on WARREN_METRICS_ADDR from
// the moment the binary starts: while it waits for the store and the broker, /healthz is
// 200 and /readyz 503 with why it waits; once the worker is open, its own handler takes
// over (worker.Worker.Handler).
type endpoints struct {
	srv     *http.Server
	handler atomic.Pointer[http.Handler]
	served  chan struct{}
	// profiling adds /debug/pprof/ to every handler (WARREN_PPROF).
	profiling bool
}

// serveEndpoints serves on l until stop; reason says why the worker is not open yet.
func serveEndpoints(l net.Listener, reason func() string, log *slog.Logger, profiling bool) *endpoints {
	e := &endpoints{served: make(chan struct{}), profiling: profiling}
	e.use(startingHandler(reason))
	e.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*e.handler.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { defer close(e.served); _ = e.srv.Serve(l) }()
	log.Info("serving /healthz, /readyz and /metrics", "addr", l.Addr().String())
	return e
}

// use makes h the handler of every request from now on.
func (e *endpoints) use(h http.Handler) {
	if e.profiling {
		h = startup.WithProfiling(h)
	}
	e.handler.Store(&h)
}

// stop closes the listener and waits up to two seconds for requests under way.
func (e *endpoints) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
	<-e.served
}

// startingHandler answers while the worker is not open: healthy, not ready, no metrics yet.
func startingHandler(reason func() string) http.Handler {
	mux := startup.Starting(reason)
	mux.Handle("GET /metrics", startup.NotReady(reason))
	return mux
}
