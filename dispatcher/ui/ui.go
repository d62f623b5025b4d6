// Package ui is the dispatcher's web dashboard, served under /ui/ on the API's listener: the
// instances with their counts by status, one instance with its history as a timeline and
// its children, the actions of the API (raise, terminate, suspend, resume, purge, restart, rewind),
// the live workers and the queues. It is Go html/template pages embedded in the binary and
// one small script of its own (refreshing the live parts of a page); nothing is loaded
// from elsewhere.
//
// The dashboard changes nothing itself: every read and action goes through the
// dispatcher's own API ([API], an in-process [client.Client]), so it validates and answers
// exactly as the API does, and an action's error is the API's. The dispatcher does not
// import this package: a binary mounts it through [dispatcher.Config.Dashboard], as
// cmd/dispatcher does.
//
//	cfg := dispatcher.Config{Token: os.Getenv("WARREN_TOKEN"), Dashboard: ui.ForDispatcher}
package ui

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// Prefix is the path the dashboard is served under.
const Prefix = dispatcher.DashboardPrefix

// API is what the dashboard asks of the dispatcher; *client.Client implements it.
type API interface {
	List(ctx context.Context, o client.ListOptions) ([]api.Status, string, error)
	History(ctx context.Context, id string) (*api.StatusWithHistory, error)
	Raise(ctx context.Context, id, event string, data any) error
	Terminate(ctx context.Context, id, reason string, recursive bool) error
	Suspend(ctx context.Context, id, reason string) error
	Resume(ctx context.Context, id, reason string) error
	Restart(ctx context.Context, id string) (*api.Status, error)
	Rewind(ctx context.Context, id, reason string) (*api.Status, error)
	Purge(ctx context.Context, id string) error
	Workers(ctx context.Context) (*api.WorkersResponse, error)
	DeadLetters(ctx context.Context, pageSize int, cursor string) (*api.DeadLettersResponse, error)
	Redrive(ctx context.Context, id string) (*api.DeadLetter, error)
}

// Config configures the dashboard. API is required.
type Config struct {
	API API
	// Count counts the instances that match a filter (the counts by status); nil leaves the
	// counts out.
	Count func(ctx context.Context, f history.ListFilter) (int64, error)
	// Depths reports the depth of each of the hub's queues (the queues page); nil: the page
	// says the broker does not report them.
	Depths func(ctx context.Context) ([]queues.QueueDepth, error)
	// Token, when set, is asked for once by a login form; the session cookie it sets is
	// what every page and action then requires.
	Token string
	// JaegerURL is the Jaeger UI's base URL (WARREN_JAEGER_UI); when set, an instance page
	// links to its trace at JaegerURL/trace/<traceId>.
	JaegerURL string
	// Timeout bounds the API calls of one page (default 15 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Dashboard serves the pages. Its zero value is not usable; call New.
type Dashboard struct {
	cfg   Config
	pages *pages
	csrf  *csrf
	h     http.Handler
}

// New returns the dashboard over cfg.API. It panics if the embedded templates do not parse,
// which a test of this package catches.
func New(cfg Config) *Dashboard {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Dashboard{cfg: cfg, pages: mustParsePages(), csrf: newCSRF()}
	d.h = d.routes()
	return d
}

// ServeHTTP serves the pages under Prefix.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.h.ServeHTTP(w, r) }

func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/", http.FileServerFS(staticFS)))
	mux.HandleFunc("GET /ui/login", d.loginForm)
	mux.HandleFunc("POST /ui/login", d.login)
	mux.HandleFunc("POST /ui/logout", d.logout)
	mux.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/instances", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /ui/instances", d.instances)
	mux.HandleFunc("GET /ui/instances/{id}", d.instance)
	mux.HandleFunc("POST /ui/instances/{id}/{action}", d.act)
	mux.HandleFunc("GET /ui/workers", d.workers)
	mux.HandleFunc("GET /ui/queues", d.queues)
	mux.HandleFunc("POST /ui/deadletters/{id}/redrive", d.redrive)
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		d.renderError(w, r, http.StatusNotFound, "There is no page "+r.URL.Path+".")
	})
	return secureHeaders(d.requireSession(d.csrf.protect(mux)))
}

// secureHeaders forbids framing, inline scripts and anything loaded from elsewhere.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// apiContext bounds the API calls of one request.
func (d *Dashboard) apiContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d.cfg.Timeout)
}
