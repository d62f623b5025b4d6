// Command worker joins a Warren fleet and runs the example orchestrations and activities
// (examples/provisioning, examples/hello, examples/fanout, examples/resilience,
// examples/payloads). Start as many replicas as you like; they share the partitions
// between them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/examples/fanout"
	"github.com/warrenhq/warren/examples/hello"
	"github.com/warrenhq/warren/examples/payloads"
	"github.com/warrenhq/warren/examples/provisioning"
	"github.com/warrenhq/warren/examples/resilience"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/config"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/internal/startup"
	"github.com/warrenhq/warren/tracing"
	"github.com/warrenhq/warren/worker"
)

func main() {
	// Before anything else, so that a SIGTERM while the worker connects stops it too.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := run(ctx)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg worker.Config
	var logLevel, logFormat, metricsAddr string
	var profiling bool
	var startupTimeout time.Duration
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.Usage = config.Usage(fs, "worker [flags]", "Joins the fleet of a Warren hub and runs orchestrations and activities until SIGTERM, then drains and leaves.\nFlags fall back to the WARREN_* environment variables named below; tracing follows OTEL_*.")
	config.String(fs, &cfg.AMQPURL, "amqp-url", "WARREN_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ URL (several, comma-separated, for a cluster)")
	config.String(fs, &cfg.MongoURI, "mongo-uri", "WARREN_MONGO_URI", "mongodb://127.0.0.1:27017", "MongoDB URI")
	config.String(fs, &cfg.Hub, "hub", "WARREN_HUB", "warren", "task hub name (queue prefix and database name)")
	config.Int(fs, &cfg.Partitions, "partitions", "WARREN_PARTITIONS", 16, "control queue partitions (fixed per hub)")
	config.String(fs, &cfg.WorkerID, "worker-id", "WARREN_WORKER_ID", "", "this worker's id (default host-pid-random)")
	config.Int(fs, &cfg.ActivityConcurrency, "activity-concurrency", "WARREN_ACTIVITY_CONCURRENCY", 16, "activities run at once")
	config.Int(fs, &cfg.InPlaceActivities, "in-place-activities", "WARREN_IN_PLACE_ACTIVITIES", 256, "activities of its own episodes a worker runs in place at once, skipping the work-item queue (negative: none)")
	config.Duration(fs, &cfg.InPlaceWait, "in-place-wait", "WARREN_IN_PLACE_WAIT", 100*time.Millisecond, "how long a batch waits for each round of the activities it runs in place, three waits in all, folding their results into the same episode (negative: no wait)")
	config.Int(fs, &cfg.MaxMessageBytes, "max-message-bytes", "WARREN_MAX_MESSAGE_BYTES", worker.DefaultMaxMessageBytes, "largest message body decoded; larger ones are dead-lettered unread")
	config.Int(fs, &cfg.PayloadInlineMax, "payload-inline-max", "WARREN_PAYLOAD_INLINE_MAX", history.DefaultPayloadInlineMax, "largest input or output kept inline in a message or an episode; larger ones are stored beside the history and referred to")
	config.Duration(fs, &cfg.HeartbeatInterval, "heartbeat", "WARREN_HEARTBEAT", 1e9, "heartbeat interval")
	config.Duration(fs, &cfg.DeadAfter, "dead-after", "WARREN_DEAD_AFTER", 5e9, "a worker whose heartbeat is older than this counts as gone")
	config.Duration(fs, &cfg.DrainTimeout, "drain-timeout", "WARREN_DRAIN_TIMEOUT", 30e9, "how long SIGTERM waits for in-flight work")
	config.Int(fs, &cfg.CacheSize, "cache-size", "WARREN_CACHE_SIZE", 10000, "instances whose history is kept in memory")
	config.Duration(fs, &cfg.ActivityCheck, "activity-check", "WARREN_ACTIVITY_CHECK", 5*time.Second, "how often a running activity's instance is looked up; once it has ended (terminated) the activity's context is cancelled")
	config.Duration(fs, &cfg.Retention, "retention", "WARREN_RETENTION", 0, "purge ended instances created longer ago than this, with their histories, such as 720h (0: keep everything)")
	config.Duration(fs, &cfg.RetentionInterval, "retention-interval", "WARREN_RETENTION_INTERVAL", time.Minute, "how often the retention sweep runs")
	config.Duration(fs, &cfg.OpTimeout, "op-timeout", "WARREN_OP_TIMEOUT", 30*time.Second, "bound of each round of store and broker calls (a batch of episodes, a heartbeat, a timer sweep, an activity result)")
	config.Duration(fs, &startupTimeout, "startup-timeout", "WARREN_STARTUP_TIMEOUT", 0, "how long to wait at start for the store and the broker to answer before exiting with an error (0: until they answer; meanwhile the log says why every 10 s)")
	config.String(fs, &metricsAddr, "metrics-addr", "WARREN_METRICS_ADDR", "", "address to serve /healthz, /readyz and /metrics on, such as :9090 (empty: not served)")
	config.Bool(fs, &profiling, "pprof", "WARREN_PPROF", false, "also serve Go's CPU and memory profiles on the metrics address, under /debug/pprof/")
	config.String(fs, &logLevel, "log-level", "WARREN_LOG_LEVEL", "info", "debug, info, warn or error")
	config.String(fs, &logFormat, "log-format", "WARREN_LOG_FORMAT", logging.FormatText, "text or json (lines about an instance carry instance_id, trace_id and span_id)")
	if err := config.Parse(fs, os.Args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if startupTimeout < 0 {
		return fmt.Errorf("startup timeout (--startup-timeout, WARREN_STARTUP_TIMEOUT) is %s, want 0 (wait until the services answer) or a positive duration such as 60s", startupTimeout)
	}
	log, err := logging.New(os.Stderr, logFormat, logLevel)
	if err != nil {
		return err
	}
	cfg.Logger = log

	tp, shutdown, err := tracing.Setup(ctx, "warren-worker")
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(sctx)
	}()
	cfg.Tracer = tp.Tracer("github.com/warrenhq/warren/worker")

	r := durable.NewRegistry()
	for _, register := range []func(*durable.Registry) error{provisioning.Register, hello.Register, fanout.Register, resilience.Register, payloads.Register} {
		if err := register(r); err != nil {
			return err
		}
	}
	cfg.Logger.Info("worker starting", "amqp", config.Redact(cfg.AMQPURL), "mongo", config.Redact(cfg.MongoURI), "hub", cfg.Hub)
	// The endpoints listen before the services are waited for, so that a taken address
	// fails at once and /readyz says why the worker waits (its log says it too, every
	// startup.LogEvery).
	var status startup.Status
	var ep *endpoints
	if metricsAddr != "" {
		l, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("listen on %s (--metrics-addr, WARREN_METRICS_ADDR): %w", metricsAddr, err)
		}
		ep = serveEndpoints(l, status.Reason, cfg.Logger, profiling)
		defer ep.stop()
	}
	w, err := startup.Wait(ctx, startup.Options{AMQPURL: cfg.AMQPURL, Timeout: startupTimeout, Logger: cfg.Logger, Status: &status},
		func(ctx context.Context) (*worker.Worker, error) { return worker.Open(ctx, cfg, r) }, nil)
	if ctx.Err() != nil {
		// The process exits now; a worker opened meanwhile never joined the fleet.
		cfg.Logger.Info("stopped before startup finished")
		return nil
	}
	if err != nil {
		return err
	}
	if ep != nil {
		ep.use(w.Handler())
	}
	return w.Run(ctx)
}
