// Command client is the command-line client of Warren's dispatcher.
//
//	client start ProvisionNewDevices --input '{}' --id batch-7 --wait
//	client raise device-42 DownloadCompletedAck --data true
//	client status batch-7 | history batch-7 | list --status Running | workers
//	client terminate batch-7 --reason "bad batch" --recursive
//	client suspend|resume|purge ID          client wait ID --timeout 5m
//	client purge batch-7 --recursive        (with its sub-orchestrations)
//	client restart batch-7                  client rewind batch-7 (Failed: from just before its failure)
//	client purge --status Completed --status Failed --older-than 7d
//
// Output is readable by default; --json prints JSON for scripts. Exit codes: 0 done, 1 error
// (one line on stderr), 2 usage, 3 a waited-on orchestration ended Failed or Terminated,
// 4 a wait timed out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/internal/config"
	"github.com/warrenhq/warren/tracing"
)

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitFailed   = 3
	exitTimedOut = 4
)

// Config is what every command needs: where the dispatcher is and how to print.
type Config struct {
	Dispatcher string // WARREN_DISPATCHER
	Token      string // WARREN_TOKEN
	JSON       bool
}

// env is the process's world, replaced in tests.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// tty says whether stderr is a terminal (progress is shown only there).
	tty bool
	// tracing sets up OpenTelemetry from OTEL_* (off in tests).
	tracing bool
	// proc is where `client bench` reads processes' CPU ("" is /proc).
	proc string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, tty: isTerminal(os.Stderr), tracing: true})
	stop()
	os.Exit(code)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// command is one subcommand: its synopsis, its own flags and what it does.
type command struct {
	name     string
	synopsis string
	args     int // positional arguments it takes; -1 when it checks them itself
	flags    func(fs *flag.FlagSet, o *cmdOptions)
	run      func(ctx context.Context, c *cli, args []string, o *cmdOptions) int
}

// cmdOptions holds every command's flags; each command registers the ones it has.
type cmdOptions struct {
	input, inputFile, id, data, reason, timeout string
	status, name, parent                        string
	jsonFile                                    string
	statuses                                    []string
	olderThan                                   string
	wait, recursive, purge, closed              bool
	count, concurrency                          int
	amqpURL, hub                                string // client hub
	partitions                                  int
}

var commands = []command{
	{"start", "start NAME [--input JSON | --input-file F] [--id ID] [--wait]", 1, func(fs *flag.FlagSet, o *cmdOptions) {
		fs.StringVar(&o.input, "input", "", "input of the orchestration, as JSON")
		fs.StringVar(&o.inputFile, "input-file", "", "read the input JSON from this file (- for stdin)")
		fs.StringVar(&o.id, "id", "", "instance id (default: a random one); 1-256 of A-Z a-z 0-9 _ . : -")
		fs.BoolVar(&o.wait, "wait", false, "wait until the orchestration ends and print its result")
	}, runStart},
	{"status", "status ID", 1, nil, runStatus},
	{"wait", "wait ID [--timeout D]", 1, func(fs *flag.FlagSet, o *cmdOptions) {
		fs.StringVar(&o.timeout, "timeout", "", "give up after this long, e.g. 30s or 5m (default: no limit)")
	}, runWait},
	{"list", "list [--status S] [--name N] [--parent ID]", 0, func(fs *flag.FlagSet, o *cmdOptions) {
		fs.StringVar(&o.status, "status", "", "only instances in these statuses (comma-separated), e.g. Running,Pending")
		fs.StringVar(&o.name, "name", "", "only instances of this orchestrator")
		fs.StringVar(&o.parent, "parent", "", "only sub-orchestrations of this instance")
	}, runList},
	{"history", "history ID", 1, nil, runHistory},
	{"raise", "raise ID EVENT [--data JSON]", 2, func(fs *flag.FlagSet, o *cmdOptions) {
		fs.StringVar(&o.data, "data", "", "event data, as JSON (default: none)")
	}, runRaise},
	{"terminate", "terminate ID [--reason R] [--recursive]", 1, func(fs *flag.FlagSet, o *cmdOptions) {
		fs.StringVar(&o.reason, "reason", "", "why (kept in the history)")
		fs.BoolVar(&o.recursive, "recursive", false, "terminate its running sub-orchestrations too")
	}, runTerminate},
	{"suspend", "suspend ID", 1, nil, runSuspend},
	{"resume", "resume ID", 1, nil, runResume},
	{"restart", "restart ID", 1, nil, runRestart},
	{"rewind", "rewind ID [--reason R]", 1, func(fs *flag.FlagSet, o *cmdOptions) {
		fs.StringVar(&o.reason, "reason", "", "why (kept in the history)")
	}, runRewind},
	{"purge", "purge ID [--recursive] | purge [--status S]... [--name N] [--older-than D]", -1, purgeFlags, runPurge},
	{"workers", "workers", 0, nil, runWorkers},
	{"deadletters", "deadletters", 0, nil, runDeadLetters},
	{"redrive", "redrive ID...", -1, nil, runRedrive},
	{"hub", "hub status|upgrade [--amqp-url URL] [--hub H] [--partitions N]", 1, hubFlags, runHub},
	{"bench", "bench NAME [--count N] [--concurrency C] [--closed] [--input JSON] [--timeout D] [--purge] [--json-file F]", 1, func(fs *flag.FlagSet, o *cmdOptions) {
		fs.IntVar(&o.count, "count", 100, "instances to run")
		fs.IntVar(&o.concurrency, "concurrency", 32, "requests in flight")
		fs.BoolVar(&o.closed, "closed", false, "keep at most --concurrency instances running: start the next when one has ended (with 1: latency on an idle fleet); default: submit all, then wait")
		fs.StringVar(&o.input, "input", "", "input of every instance, as JSON")
		fs.StringVar(&o.timeout, "timeout", "", "give up after this long (default: no limit)")
		fs.BoolVar(&o.purge, "purge", false, "purge the instances afterwards")
		fs.StringVar(&o.jsonFile, "json-file", "", "also write the result as JSON to this file (for scripts)")
	}, runBench},
}

// cli is one invocation: the configured client and where output goes.
type cli struct {
	env
	cfg    Config
	client *client.Client
	opts   []client.Option
	cmd    string
}

// globalFlags registers the flags every command accepts, before or after its name.
func globalFlags(fs *flag.FlagSet, cfg *Config) {
	config.String(fs, &cfg.Dispatcher, "dispatcher", "WARREN_DISPATCHER", client.DefaultURL, "the dispatcher's URL")
	config.String(fs, &cfg.Token, "token", "WARREN_TOKEN", "", "bearer token the dispatcher requires")
	fs.BoolVar(&cfg.JSON, "json", false, "print JSON instead of readable text")
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: client [--dispatcher URL] [--token T] [--json] COMMAND [ARGS] [FLAGS]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  client %s\n", c.synopsis)
	}
	fmt.Fprint(w, `
Flags of every command:
  --dispatcher URL   the dispatcher's URL (env WARREN_DISPATCHER, default `+client.DefaultURL+`)
  --token T          bearer token the dispatcher requires (env WARREN_TOKEN)
  --json             print JSON instead of readable text

Flags of client hub (it talks to the broker, not to the dispatcher):
  --amqp-url URL     the broker's URL (env WARREN_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/)
  --hub H            the hub (env WARREN_HUB, default warren)
  --partitions N     the hub's partition count (env WARREN_PARTITIONS, default 16)

Tracing follows the standard OTEL_* variables (e.g. OTEL_EXPORTER_OTLP_ENDPOINT).

Exit codes: 0 done, 1 error, 2 usage, 3 a waited-on orchestration ended Failed or
Terminated, 4 a wait timed out. "client COMMAND --help" lists a command's flags.
`)
}

func run(ctx context.Context, args []string, e env) int {
	var cfg Config
	gfs := flag.NewFlagSet("client", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	globalFlags(gfs, &cfg)
	if err := config.Parse(gfs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(e.stdout)
			return exitOK
		}
		fmt.Fprintln(e.stderr, "client:", oneLine(err.Error()))
		usage(e.stderr)
		return exitUsage
	}
	rest := gfs.Args()
	if len(rest) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	if rest[0] == "help" {
		usage(e.stdout)
		return exitOK
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == rest[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(e.stderr, "client: unknown command %q\n", rest[0])
		usage(e.stderr)
		return exitUsage
	}

	fs := flag.NewFlagSet("client "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The global flags are registered again so they may follow the command; their
	// values so far are the defaults here.
	sub := cfg
	fs.StringVar(&sub.Dispatcher, "dispatcher", cfg.Dispatcher, "the dispatcher's URL (env WARREN_DISPATCHER)")
	fs.StringVar(&sub.Token, "token", cfg.Token, "bearer token (env WARREN_TOKEN)")
	fs.BoolVar(&sub.JSON, "json", cfg.JSON, "print JSON instead of readable text")
	// --help shows the built-in defaults, never a value from the environment (a token).
	fs.Lookup("dispatcher").DefValue = client.DefaultURL
	fs.Lookup("token").DefValue = ""
	var o cmdOptions
	if cmd.flags != nil {
		cmd.flags(fs, &o)
	}
	pos, err := parseInterspersed(fs, rest[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(e.stdout, "Usage: client %s\n\nFlags:\n", cmd.synopsis)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		return exitOK
	}
	if err == nil && cmd.args >= 0 && len(pos) != cmd.args {
		err = fmt.Errorf("%s takes %d argument(s), got %d", cmd.name, cmd.args, len(pos))
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "client %s: %s\nUsage: client %s\n", cmd.name, oneLine(err.Error()), cmd.synopsis)
		return exitUsage
	}
	c := &cli{env: e, cfg: sub, cmd: cmd.name}
	opts := []client.Option{client.WithToken(sub.Token)}
	if e.tracing {
		// The client's create_orchestration span starts the trace of what it submits.
		tp, shutdown, err := tracing.Setup(ctx, "warren-client")
		if err != nil {
			fmt.Fprintf(e.stderr, "client: tracing: %s\n", oneLine(err.Error()))
			return exitError
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = shutdown(sctx)
		}()
		opts = append(opts, client.WithTracer(tp.Tracer("github.com/warrenhq/warren/client")))
	}
	c.opts = opts
	c.client = client.New(sub.Dispatcher, opts...)
	return cmd.run(ctx, c, pos, &o)
}

// parseInterspersed parses flags that may come before, between or after the positional
// arguments ("start Hello --wait"); "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stopped at a positional argument, or after "--" (then all are).
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// fail prints one line saying what failed and why, and returns exit code 1.
func (c *cli) fail(err error) int {
	fmt.Fprintf(c.stderr, "client %s: %s\n", c.cmd, oneLine(err.Error()))
	return exitError
}

func (c *cli) usageError(msg string) int {
	fmt.Fprintf(c.stderr, "client %s: %s\n", c.cmd, msg)
	return exitUsage
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
