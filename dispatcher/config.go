package dispatcher

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of Config, in one place.
const (
	DefaultAMQPURL      = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultMongoURI     = "mongodb://127.0.0.1:27017"
	DefaultHub          = "warren"
	DefaultPartitions   = 16
	DefaultHTTPAddr     = "127.0.0.1:8080"
	DefaultMaxBodyBytes = 1 << 20
	DefaultWorkerMaxAge = 5 * time.Second
	DefaultWaitTimeout  = 30 * time.Second
	DefaultMaxWait      = 5 * time.Minute
	DefaultOpTimeout    = 15 * time.Second
)

// Config is the dispatcher's configuration; zero fields take the defaults above.
type Config struct {
	AMQPURL    string // RabbitMQ URL(s), comma-separated for a cluster
	MongoURI   string // MongoDB connection string
	Hub        string // task hub name: queue prefix and database name
	Partitions int    // control-queue partitions; fixed per hub
	HTTPAddr   string // listen address, 127.0.0.1:8080 by default
	// Token, when set, is the bearer token every /v1 and /metrics request must carry, and
	// what the dashboard's login form asks for.
	Token string
	// JaegerUI is the Jaeger UI's base URL (e.g. http://127.0.0.1:16686); when set, the
	// dashboard links each instance to its trace.
	JaegerUI string
	// Dashboard, when set, builds the web dashboard served under /ui/ ([DashboardPrefix])
	// from what the dispatcher gives it; cmd/dispatcher sets it to
	// github.com/warrenhq/warren/dispatcher/ui.ForDispatcher. Nil: no dashboard.
	Dashboard func(DashboardSource) http.Handler
	// MaxBodyBytes caps request bodies (inputs, event data); larger ones get 413.
	MaxBodyBytes int64
	// WorkerMaxAge is how old a heartbeat may be for its worker to count as live.
	WorkerMaxAge time.Duration
	// WaitTimeout is the long-poll of /wait when the request names no timeout; MaxWait caps
	// what a request may ask for (a client waits longer by asking again).
	WaitTimeout time.Duration
	MaxWait     time.Duration
	// OpTimeout bounds each store or broker operation of a request (a broker that is away
	// is waited for this long before the request fails with 503).
	OpTimeout time.Duration

	// LeaveDeadLetters leaves dead letters in the hub's dead-letter queue instead of moving
	// them into the store, where GET /v1/deadletters lists them and redrive sends them
	// again (a test that reads the queue itself sets it).
	LeaveDeadLetters bool

	Logger *slog.Logger
	// Tracer records the create_orchestration spans; default otel.Tracer of this package.
	Tracer trace.Tracer
}

func (c Config) withDefaults() (Config, error) {
	if c.AMQPURL == "" {
		c.AMQPURL = DefaultAMQPURL
	}
	if c.MongoURI == "" {
		c.MongoURI = DefaultMongoURI
	}
	if c.Hub == "" {
		c.Hub = DefaultHub
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		return c, fmt.Errorf("dispatcher: partitions is %d, want 1..1024", c.Partitions)
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxBodyBytes < 0 {
		return c, fmt.Errorf("dispatcher: max body bytes is %d, want a positive number", c.MaxBodyBytes)
	}
	if c.WorkerMaxAge <= 0 {
		c.WorkerMaxAge = DefaultWorkerMaxAge
	}
	if c.WaitTimeout <= 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Tracer == nil {
		c.Tracer = otel.Tracer("github.com/warrenhq/warren/dispatcher")
	}
	return c, nil
}
