// Package dispatcher is Warren's front door: an HTTP/JSON API through which clients start,
// inspect, signal and purge orchestration instances. It writes instance documents to the
// store and sends control messages to the instances' partitions; the workers do the rest
// (docs/design.md sections 2 and 8). Bad input is refused with a 4xx and a JSON error before
// anything is written or published.
//
//	d, err := dispatcher.Open(ctx, dispatcher.Config{Hub: "warren"}) // store, broker, topology
//	if err != nil { ... }
//	defer d.Close()
//	err = d.ListenAndServe(ctx) // until ctx ends
//
// [Open] dials the services named in [Config]; [New] takes a [history.Store] and a [Broker]
// of the caller's (tests and the simulation pass in-memory ones). [Dispatcher.Handler] is
// the API as an http.Handler; [Config.Dashboard] mounts a dashboard under /ui/, and
// [Starting] answers while a binary waits for its services.
//
// Routes (JSON bodies are the types of package api):
//
//	POST   /v1/instances                      start: {name, instanceId?, input?} → 202 Status
//	GET    /v1/instances                      list: ?status=&name=&parent=&createdFrom=&createdTo=&pageSize=&cursor=
//	GET    /v1/instances/{id}                 status; ?history=true adds the events
//	GET    /v1/instances/{id}/wait            long poll: ?timeout=30s → 200 Status when terminal, 408 on timeout
//	POST   /v1/instances/{id}/events/{name}   raise: body is the event data (any JSON) → 202
//	POST   /v1/instances/{id}/terminate       {reason?, recursive?} → 202
//	POST   /v1/instances/{id}/suspend         {reason?} → 202
//	POST   /v1/instances/{id}/resume          {reason?} → 202
//	POST   /v1/instances/{id}/restart         an ended instance, again with its input, as a new execution → 202
//	POST   /v1/instances/{id}/rewind          {reason?} a Failed instance, from just before its failure → 202
//	DELETE /v1/instances                      purge ended instances: ?status=&name=&createdFrom=&createdTo= → 200 {purged}
//	DELETE /v1/instances/{id}                 purge a terminal instance → 204;
//	                                          ?recursive=true: with its sub-orchestrations → 200 {purged}
//	GET    /v1/workers                        live workers and the partitions each owns
//	GET    /v1/deadletters                    dead letters kept: ?pageSize=&cursor=
//	POST   /v1/deadletters/{id}/redrive       publish one again where it died, forget it
//	GET    /v1/stats                          this process: pid, start, its store's command counts
//	GET    /healthz  /readyz  /metrics
//	       /ui/                               the web dashboard, when Config.Dashboard is set (cmd/dispatcher
//	                                          sets it to package dispatcher/ui's)
//
// A start answers 503 in two ways. When the broker refused the start message, nothing is
// left behind and the start may simply be sent again. When the broker did not confirm it
// (the message may be queued all the same), the dispatcher refuses the start in the
// instance's history (its first episode fails it with StartNotQueued, so a worker that
// gets the message later drops it) and the error says the outcome was unknown; had a worker
// begun it already, the answer is 202 after all. Read the status before starting it again.
package dispatcher

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/config"
	"github.com/warrenhq/warren/internal/hubconn"
	"github.com/warrenhq/warren/internal/startup"
	"github.com/warrenhq/warren/queues"
)

// Broker is what the dispatcher needs of RabbitMQ: confirmed publishing to a queue.
// *queues.Conn implements it.
type Broker interface {
	Publish(ctx context.Context, queue string, msgs ...queues.Message) error
}

// Pinger is implemented by a Store or Broker that can say whether its server answers;
// /readyz uses it when present.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Dispatcher serves the HTTP API over a store and a broker.
type Dispatcher struct {
	cfg     Config
	store   history.Store
	broker  Broker
	log     *slog.Logger
	metrics *metrics
	known   *knownOrchestrators
	waiters *waiters
	starts  *startGroups
	handler http.Handler
	// readiness answers /readyz, and remembers what it last logged.
	readiness startup.Readiness

	closers []func() error // what Open opened, closed by Close
}

// New returns a dispatcher over store and broker, which the caller has opened (and closes).
// Tests use it with doubles; binaries use Open.
func New(cfg Config, store history.Store, broker Broker) (*Dispatcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{cfg: cfg, store: store, broker: broker, log: cfg.Logger, waiters: newWaiters(), starts: newStartGroups()}
	d.metrics = newMetrics(d.waiters)
	d.known = &knownOrchestrators{store: store, maxAge: cfg.WorkerMaxAge}
	d.handler = d.routes()
	return d, nil
}

// Open connects to the store and the broker named in cfg, records the hub's partition
// count (refusing a hub that has another), declares the queue topology and returns a
// dispatcher ready to serve. ctx bounds the opening (give it a deadline: a broker that
// accepts connections but never answers is otherwise waited for); what Open starts lives
// until Close.
func Open(ctx context.Context, cfg Config) (*Dispatcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	log.Info("connecting", "hub", cfg.Hub, "partitions", cfg.Partitions,
		"mongo", config.Redact(cfg.MongoURI), "amqp", config.Redact(cfg.AMQPURL))
	h, err := hubconn.Open(ctx, hubconn.Options{AMQPURL: cfg.AMQPURL, MongoURI: cfg.MongoURI, Hub: cfg.Hub,
		Partitions: cfg.Partitions, AppName: "warren-dispatcher", Logger: log})
	if err != nil {
		return nil, fmt.Errorf("dispatcher: %w", err)
	}
	store, conn := h.Store, h.Conn
	closeStore := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		return store.Close(ctx)
	}
	d, err := New(cfg, store, conn) // conn.Ping tells whether the broker answers AMQP
	if err != nil {
		_ = conn.Close()
		_ = closeStore()
		return nil, err
	}
	// Waiters learn of ended instances from the workers' announcements. The listener's
	// context outlives ctx (Close cancels it) but is cancelled with ctx while Open waits.
	listener := "dispatcher-" + newUUID()
	lctx, stopListener := context.WithCancel(context.WithoutCancel(ctx))
	unbind := context.AfterFunc(ctx, stopListener)
	k, err := d.waiters.listen(lctx, conn, listener)
	if !unbind() && err == nil {
		err = ctx.Err() // ctx ended as the listener started: it is stopped already
	}
	if err != nil {
		stopListener()
		_ = conn.Close()
		_ = closeStore()
		return nil, fmt.Errorf("dispatcher: listening for announcements: %w", err)
	}
	var stopCollecting func() error
	if dls, ok := history.Store(store).(history.DeadLetterStore); ok && !cfg.LeaveDeadLetters {
		consume := func(ctx context.Context, q string, prefetch int, h func(*queues.Delivery)) (func() error, error) {
			k, err := conn.Consume(ctx, q, prefetch, h)
			if err != nil {
				return nil, err
			}
			return k.Cancel, nil
		}
		if stopCollecting, err = d.collectDeadLetters(lctx, consume, dls); err != nil {
			_ = k.Cancel()
			stopListener()
			_ = conn.Close()
			_ = closeStore()
			return nil, fmt.Errorf("dispatcher: collecting dead letters: %w", err)
		}
	}
	stopListening := func() error {
		if stopCollecting != nil {
			_ = stopCollecting()
		}
		_ = k.Cancel()
		stopListener()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		return conn.StopListening(ctx, listener)
	}
	d.closers = []func() error{stopListening, conn.Close, closeStore}
	return d, nil
}

// closeTimeout bounds each step of Close that talks to a server.
const closeTimeout = 5 * time.Second

// Close closes what Open opened.
func (d *Dispatcher) Close() error {
	var errs []error
	for _, c := range d.closers {
		errs = append(errs, c())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// Handler is the HTTP API.
func (d *Dispatcher) Handler() http.Handler { return d.handler }

// ListenAndServe serves the API on cfg.HTTPAddr until ctx ends, then shuts down gracefully
// (in-flight requests get up to 10 s; long polls are cut short).
func (d *Dispatcher) ListenAndServe(ctx context.Context) error {
	l, err := net.Listen("tcp", d.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("dispatcher: listen on %s: %w", d.cfg.HTTPAddr, err)
	}
	return d.Serve(ctx, l)
}

// Serve serves the API on l until ctx ends.
func (d *Dispatcher) Serve(ctx context.Context, l net.Listener) error {
	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           d.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	d.log.Info("dispatcher listening", "addr", l.Addr().String(), "auth", d.cfg.Token != "")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("dispatcher: serve: %w", err)
	case <-ctx.Done():
	}
	cancelBase() // ends long polls
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}

func (d *Dispatcher) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/instances", d.handle(d.start))
	mux.HandleFunc("GET /v1/instances", d.handle(d.list))
	mux.HandleFunc("GET /v1/instances/{id}", d.handle(d.status))
	mux.HandleFunc("GET /v1/instances/{id}/wait", d.handle(d.wait))
	mux.HandleFunc("POST /v1/instances/{id}/events/{name}", d.handle(d.raise))
	mux.HandleFunc("POST /v1/instances/{id}/terminate", d.handle(d.terminate))
	mux.HandleFunc("POST /v1/instances/{id}/suspend", d.handle(d.suspend))
	mux.HandleFunc("POST /v1/instances/{id}/resume", d.handle(d.resume))
	mux.HandleFunc("POST /v1/instances/{id}/restart", d.handle(d.restart))
	mux.HandleFunc("POST /v1/instances/{id}/rewind", d.handle(d.rewind))
	mux.HandleFunc("DELETE /v1/instances", d.handle(d.purgeMany))
	mux.HandleFunc("DELETE /v1/instances/{id}", d.handle(d.purge))
	mux.HandleFunc("GET /v1/workers", d.handle(d.workers))
	mux.HandleFunc("GET /v1/stats", d.handle(d.stats))
	mux.HandleFunc("GET /v1/deadletters", d.handle(d.listDeadLetters))
	mux.HandleFunc("POST /v1/deadletters/{id}/redrive", d.handle(d.redrive))
	mux.HandleFunc("GET /healthz", startup.Healthy)
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.Handle("GET /metrics", d.metrics.handler())
	if d.cfg.Dashboard != nil {
		mux.Handle(DashboardPrefix, d.dashboard(mux))
	}
	// The same paths without a method catch the methods a path does not serve.
	for path, allow := range map[string]string{
		"/v1/instances":                    "GET, POST, DELETE",
		"/v1/instances/{id}":               "GET, DELETE",
		"/v1/instances/{id}/wait":          "GET",
		"/v1/instances/{id}/events/{name}": "POST",
		"/v1/instances/{id}/terminate":     "POST",
		"/v1/instances/{id}/suspend":       "POST",
		"/v1/instances/{id}/resume":        "POST",
		"/v1/workers":                      "GET",
		"/v1/stats":                        "GET",
		"/v1/deadletters":                  "GET",
		"/v1/deadletters/{id}/redrive":     "POST",
		"/healthz":                         "GET",
		"/readyz":                          "GET",
		"/metrics":                         "GET",
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			d.writeError(w, r, errorf(http.StatusMethodNotAllowed, api.CodeMethodNotAllowed,
				fmt.Sprintf("%s does not take %s; use %s", r.URL.Path, r.Method, allow)))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.writeError(w, r, errorf(http.StatusNotFound, api.CodeNotFound,
			fmt.Sprintf("no route %s %s; the API is under /v1/instances and /v1/workers", r.Method, r.URL.Path)))
	})
	return d.instrument(d.authenticate(mux))
}

// handle adapts a handler that returns an error.
func (d *Dispatcher) handle(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			d.writeError(w, r, err)
		}
	}
}

// authenticate demands the bearer token, when one is configured, on everything but the
// health probes and the dashboard (which asks for the token itself, and keeps a session
// cookie).
func (d *Dispatcher) authenticate(next http.Handler) http.Handler {
	if d.cfg.Token == "" {
		return next
	}
	want := []byte("Bearer " + d.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
		dashboard := d.cfg.Dashboard != nil && (r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, DashboardPrefix))
		if probe || dashboard {
			next.ServeHTTP(w, r)
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			d.writeError(w, r, errorf(http.StatusUnauthorized, api.CodeUnauthorized,
				"missing or wrong bearer token (set WARREN_TOKEN to the dispatcher's token)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// instrument counts requests by route pattern and status code.
func (d *Dispatcher) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := r.Pattern // set by the ServeMux on r
		if route == "" || route == "/" {
			route = "unmatched"
		}
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		d.metrics.request(route, rec.code, time.Since(start))
	})
}

// opContext bounds one store or broker operation of a request.
func (d *Dispatcher) opContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d.cfg.OpTimeout)
}

// isStoreArgError reports whether the store refused an argument of the request (a cursor
// it cannot read, an over-long name): the caller's mistake, not an outage.
func isStoreArgError(err error) bool {
	return errors.Is(err, history.ErrInvalidArgument) || errors.Is(err, mongostore.ErrInvalidArgument)
}
