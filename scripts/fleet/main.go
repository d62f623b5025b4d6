// Command fleet runs a local Warren fleet for the demo and benchmark scripts
// (scripts/lib/fleet.sh): a dispatcher and --workers workers from --bin, with this
// process's environment (WARREN_HUB, WARREN_HTTP_ADDR, WARREN_AMQP_URL, OTEL_*, …). It
// starts them through internal/fleettest, the launcher the end-to-end tests use, writes
// --ready-file once the dispatcher is ready, every worker has joined and the partitions
// have settled (each worker consumes those the assignment gives it), and on SIGINT or
// SIGTERM stops them (each drains) and exits 0. It exits 1 if the fleet does not come up.
//
//	go build -o bin/ ./scripts/fleet
//	bin/fleet --workers 3 --logs .services/demo --ready-file .services/demo/ready &
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/warrenhq/warren/internal/config"
	"github.com/warrenhq/warren/internal/fleettest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// run serves the fleet until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	var o fleettest.Options
	var readyFile string
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Bin, "bin", "bin", "the folder holding the dispatcher, worker and client binaries")
	fs.IntVar(&o.Workers, "workers", 3, "how many workers")
	fs.IntVar(&o.MetricsPort, "metrics-port", 0, "worker i serves /healthz, /readyz and /metrics on 127.0.0.1:PORT+i-1 (0: a free port each)")
	fs.StringVar(&o.LogDir, "logs", ".", "the folder of each process's output (dispatcher.log, worker-N.log)")
	fs.StringVar(&readyFile, "ready-file", "", "a file to create once the fleet is ready")
	fs.DurationVar(&o.ReadyTimeout, "timeout", time.Minute, "how long to wait for the dispatcher, and again for the workers")
	config.String(fs, &o.Hub, "hub", "WARREN_HUB", "", "the task hub (default: the binaries')")
	config.String(fs, &o.HTTPAddr, "http-addr", "WARREN_HTTP_ADDR", "", "the dispatcher's address (default: a free port)")
	fs.Usage = config.Usage(fs, "fleet [flags]", "Runs a dispatcher and workers until SIGINT or SIGTERM, for the scripts.")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	// Every worker serves its endpoints (on free ports without --metrics-port): the fleet is
	// ready once the partitions have settled, which their metrics tell.
	o.Endpoints = true
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		return err
	}
	f, err := fleettest.Launch(ctx, o)
	if err != nil {
		return fmt.Errorf("%w (logs in %s)", err, o.LogDir)
	}
	defer f.Stop()
	if err := f.WaitSettled(ctx, o.ReadyTimeout); err != nil {
		return fmt.Errorf("%w (logs in %s)", err, o.LogDir)
	}
	if readyFile != "" {
		if err := os.WriteFile(readyFile, []byte(f.URL+"\n"), 0o644); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}
