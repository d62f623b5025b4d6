// Command dispatcher is Warren's front door: the HTTP/JSON API through which clients start
// and manage orchestrations (see package dispatcher for the routes). It listens at once and,
// until the store and the broker answer, serves /healthz and a /readyz that says why it
// waits (--startup-timeout, when set, bounds the wait); then it declares the hub's queues
// and serves the API until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/dispatcher/ui"
	"github.com/warrenhq/warren/internal/config"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/internal/startup"
	"github.com/warrenhq/warren/tracing"
)

func main() {
	// Before anything else, so that a SIGTERM while the binary connects stops it too.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// DefaultStartupTimeout is how long the binary waits for the store and the broker at start:
// 0, until they answer.
const DefaultStartupTimeout = 0

// options are the settings of this binary: the dispatcher's Config, the startup timeout and
// the log level and format.
type options struct {
	dispatcher.Config
	StartupTimeout time.Duration
	LogLevel       string
	LogFormat      string
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dispatcher", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &o.Config
	config.String(fs, &c.AMQPURL, "amqp-url", "WARREN_AMQP_URL", dispatcher.DefaultAMQPURL, "RabbitMQ URL; comma-separated URLs for a cluster")
	config.String(fs, &c.MongoURI, "mongo-uri", "WARREN_MONGO_URI", dispatcher.DefaultMongoURI, "MongoDB connection string")
	config.String(fs, &c.Hub, "hub", "WARREN_HUB", dispatcher.DefaultHub, "task hub name (queue prefix and database name)")
	config.Int(fs, &c.Partitions, "partitions", "WARREN_PARTITIONS", dispatcher.DefaultPartitions, "control-queue partitions (fixed per hub)")
	config.String(fs, &c.HTTPAddr, "http-addr", "WARREN_HTTP_ADDR", dispatcher.DefaultHTTPAddr, "address to listen on")
	config.String(fs, &c.Token, "token", "WARREN_TOKEN", "", "bearer token clients must send (none: no authentication)")
	config.String(fs, &c.JaegerUI, "jaeger-ui", "WARREN_JAEGER_UI", "", "Jaeger UI base URL the dashboard links traces to (e.g. http://127.0.0.1:16686)")
	config.Bool(fs, &c.LeaveDeadLetters, "leave-dead-letters", "WARREN_LEAVE_DEAD_LETTERS", false, "leave dead letters in the dead-letter queue instead of moving them into the store (where client deadletters lists them)")
	config.Int64(fs, &c.MaxBodyBytes, "max-body-bytes", "WARREN_MAX_BODY_BYTES", dispatcher.DefaultMaxBodyBytes, "largest request body (inputs, event data)")
	config.Duration(fs, &c.WorkerMaxAge, "worker-max-age", "WARREN_WORKER_MAX_AGE", dispatcher.DefaultWorkerMaxAge, "heartbeat age after which a worker counts as gone")
	config.Duration(fs, &c.MaxWait, "max-wait", "WARREN_MAX_WAIT", dispatcher.DefaultMaxWait, "longest single wait request")
	config.Duration(fs, &o.StartupTimeout, "startup-timeout", "WARREN_STARTUP_TIMEOUT", DefaultStartupTimeout, "how long to wait at start for the store and the broker to answer before exiting with an error (0: until they answer)")
	config.String(fs, &o.LogLevel, "log-level", "WARREN_LOG_LEVEL", "info", "debug, info, warn or error")
	config.String(fs, &o.LogFormat, "log-format", "WARREN_LOG_FORMAT", logging.FormatText, "text or json (lines about an instance carry instance_id, trace_id and span_id)")
	fs.Usage = config.Usage(fs, "dispatcher [flags]",
		"Serves Warren's HTTP API: start, inspect, signal and purge orchestrations, list workers.\n"+
			"Flags fall back to the WARREN_* environment variables named below; tracing follows OTEL_*.")
	if err := config.Parse(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.StartupTimeout < 0 {
		return o, fmt.Errorf("startup timeout (--startup-timeout, WARREN_STARTUP_TIMEOUT) is %s, want 0 (wait until the services answer) or a positive duration such as 60s", o.StartupTimeout)
	}
	return o, nil
}

// run serves until ctx ends (SIGINT or SIGTERM) and returns the exit code.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "dispatcher:", err)
		return 2
	}
	log, err := logging.New(stderr, o.LogFormat, o.LogLevel)
	if err != nil {
		fmt.Fprintln(stderr, "dispatcher:", err)
		return 2
	}
	o.Logger = log
	o.Dashboard = ui.ForDispatcher // the web dashboard under /ui/

	tp, shutdownTracing, err := tracing.Setup(ctx, "warren-dispatcher")
	if err != nil {
		log.Error("cannot set up tracing (check the OTEL_* variables)", "err", err)
		return 1
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			log.Warn("flushing spans failed", "err", err)
		}
	}()
	o.Tracer = tp.Tracer("github.com/warrenhq/warren/dispatcher")
	// Listen before waiting for the services, so that a taken address fails at once and
	// /readyz says why the dispatcher waits.
	l, err := net.Listen("tcp", o.HTTPAddr)
	if err != nil {
		log.Error("cannot start", "err", fmt.Errorf("listen on %s (--http-addr, WARREN_HTTP_ADDR): %w", o.HTTPAddr, err))
		return 1
	}
	defer l.Close()
	var status startup.Status
	stopWaiting := serveWhileStarting(l.(*net.TCPListener), dispatcher.Starting(status.Reason), log)
	d, err := startup.Wait(ctx, startup.Options{AMQPURL: o.Config.AMQPURL, Timeout: o.StartupTimeout, Logger: log, Status: &status},
		func(ctx context.Context) (*dispatcher.Dispatcher, error) { return dispatcher.Open(ctx, o.Config) },
		func(d *dispatcher.Dispatcher) { _ = d.Close() })
	stopWaiting()
	if ctx.Err() != nil {
		if d != nil {
			_ = d.Close()
		}
		log.Info("stopped before startup finished")
		return 0
	}
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	defer d.Close()
	if err := d.Serve(ctx, l); err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
