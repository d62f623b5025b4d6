package startup

import (
	"net/http"
	"net/http/pprof"
)

// WithProfiling serves Go's profiles under /debug/pprof/ beside h (go tool pprof
// http://ADDR/debug/pprof/profile?seconds=20). The binaries add it to their endpoints when
// WARREN_PPROF is set: a profile costs the process while it is taken, and it tells how
// the process is built, so it is off unless asked for.
func WithProfiling(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", h)
	return mux
}
