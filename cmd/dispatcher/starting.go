package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// serveWhileStarting serves h on l until the returned stop is called; stop returns with l
// still open, so that the dispatcher's own server takes it over and the address never
// refuses a connection in between.
func serveWhileStarting(l *net.TCPListener, h http.Handler, log *slog.Logger) (stop func()) {
	hl := &handOff{TCPListener: l}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(hl) }()
	return func() {
		hl.stopping.Store(true)
		_ = l.SetDeadline(time.Now()) // ends the Accept under way
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
		_ = l.SetDeadline(time.Time{})
	}
}

// handOff is a listener that the waiting server stops using without closing it.
type handOff struct {
	*net.TCPListener
	stopping atomic.Bool
}

func (h *handOff) Accept() (net.Conn, error) {
	c, err := h.TCPListener.Accept()
	if err != nil && h.stopping.Load() {
		return nil, net.ErrClosed
	}
	return c, err
}

// Close leaves the listener open for the server that comes next.
func (h *handOff) Close() error { return nil }
