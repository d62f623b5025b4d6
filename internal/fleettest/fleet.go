// Package fleettest starts a real Warren fleet: the dispatcher and worker binaries as
// separate processes on one hub, against the real broker and store. It is the one fleet
// launcher of the repository: end-to-end tests call [Start], which builds the binaries,
// picks a fresh hub and free ports, and stops everything and deletes the hub when the test
// ends; the demo and benchmark scripts run scripts/fleet, which calls [Launch] on bin/.
package fleettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options shape a fleet; zero fields take defaults.
type Options struct {
	Workers    int // default 3
	Partitions int // Start: default 8; Launch: 0 leaves WARREN_PARTITIONS to the environment
	// Env is added to every process's environment (e.g. OTEL_* settings).
	Env []string
	// WorkerEnv is added to the workers' environment after Env, so it wins over it (e.g.
	// WARREN_AMQP_URL pointing the workers at a proxy while the dispatcher dials directly).
	WorkerEnv []string
	// Endpoints gives each worker a port of its own for /healthz, /readyz and /metrics
	// (WARREN_METRICS_ADDR); Proc.EndpointsURL is its base URL.
	Endpoints bool
	// MetricsPort, with Endpoints, is worker i's port less i-1 (the scripts' fixed ports);
	// 0: a free port each.
	MetricsPort int
	// Unready starts the processes without waiting for the dispatcher to be ready or the
	// workers to join (a test of services that do not answer yet waits itself).
	Unready bool

	// The rest is set by Start; Launch's caller sets what it needs.

	// Bin is the folder holding the dispatcher, worker and client binaries.
	Bin string
	// Hub is WARREN_HUB ("": the environment's); HTTPAddr the dispatcher's address
	// (default: a free port on 127.0.0.1).
	Hub, HTTPAddr string
	// AMQPURL and MongoURI, when set, are the processes' WARREN_AMQP_URL and
	// WARREN_MONGO_URI; otherwise they take the environment's.
	AMQPURL, MongoURI string
	// LogDir receives each process's output, <name>.log (dispatcher, worker-1, …).
	LogDir string
	// ReadyTimeout bounds the wait for the dispatcher's readiness, and again for the
	// workers to join (default 30 s).
	ReadyTimeout time.Duration
}

// Fleet is a running dispatcher and its workers on one hub.
type Fleet struct {
	t          testing.TB // nil for a fleet of Launch
	Hub        string
	Partitions int
	URL        string // the dispatcher's base URL
	bin        string
	env        []string
	workerEnv  []string
	endpoints  bool
	metrics    int
	logDir     string

	mu      sync.Mutex
	workers []*Proc
	procs   []*Proc
}

// Proc is one process of the fleet.
type Proc struct {
	Name string
	// EndpointsURL is where a worker serves /healthz, /readyz and /metrics, when the
	// fleet's Options.Endpoints asked for it.
	EndpointsURL string
	cmd          *exec.Cmd
	done         chan struct{}
	err          error
}

// Launch starts a dispatcher and o.Workers workers from the binaries in o.Bin, with this
// process's environment and o's, and (unless o.Unready) waits until the dispatcher is
// ready and every worker has joined, or ctx ends. Stop ends them. On an error what was
// started is stopped.
func Launch(ctx context.Context, o Options) (*Fleet, error) {
	f, err := newFleet(&o)
	if err != nil {
		return nil, err
	}
	if err := f.launch(ctx, o); err != nil {
		f.Stop()
		return nil, err
	}
	return f, nil
}

// newFleet fills o's defaults and returns the fleet it describes, with nothing started.
func newFleet(o *Options) (*Fleet, error) {
	if o.Workers == 0 {
		o.Workers = 3
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.HTTPAddr == "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		o.HTTPAddr = "127.0.0.1:" + port
	}
	f := &Fleet{Hub: o.Hub, Partitions: o.Partitions, URL: "http://" + o.HTTPAddr, bin: o.Bin,
		endpoints: o.Endpoints, metrics: o.MetricsPort, logDir: o.LogDir}
	f.env = append(os.Environ(), "WARREN_HTTP_ADDR="+o.HTTPAddr, "WARREN_DISPATCHER="+f.URL)
	for k, v := range map[string]string{"WARREN_HUB": o.Hub, "WARREN_AMQP_URL": o.AMQPURL, "WARREN_MONGO_URI": o.MongoURI} {
		if v != "" {
			f.env = append(f.env, k+"="+v)
		}
	}
	if o.Partitions > 0 {
		f.env = append(f.env, fmt.Sprintf("WARREN_PARTITIONS=%d", o.Partitions))
	}
	f.env = append(f.env, o.Env...)
	f.workerEnv = append(append([]string(nil), f.env...), o.WorkerEnv...)
	return f, nil
}

// launch starts the processes and waits for them, as Launch says.
func (f *Fleet) launch(ctx context.Context, o Options) error {
	d, err := f.start("dispatcher", "dispatcher", append(f.env, "OTEL_SERVICE_NAME=warren-dispatcher"))
	if err != nil {
		return err
	}
	f.procs = append(f.procs, d)
	if !o.Unready {
		if err := poll(ctx, o.ReadyTimeout, "the dispatcher to be ready", func() bool {
			resp, err := http.Get(f.URL + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}); err != nil {
			return err
		}
	}
	for range o.Workers {
		if _, err := f.startWorker(); err != nil {
			return err
		}
	}
	if o.Unready {
		return nil
	}
	return poll(ctx, o.ReadyTimeout, fmt.Sprintf("%d workers to join", o.Workers), func() bool {
		return f.LiveWorkers() >= o.Workers
	})
}

// startWorker adds one worker process to the fleet.
func (f *Fleet) startWorker() (*Proc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	env, url := f.workerEnv, ""
	if f.endpoints {
		port := fmt.Sprint(f.metrics + len(f.workers))
		if f.metrics == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		env, url = append(append([]string(nil), env...), "WARREN_METRICS_ADDR=127.0.0.1:"+port), "http://127.0.0.1:"+port
	}
	p, err := f.start(fmt.Sprintf("worker-%d", len(f.workers)+1), "worker", append(env, "OTEL_SERVICE_NAME=warren-worker"))
	if err != nil {
		return nil, err
	}
	p.EndpointsURL = url
	f.workers = append(f.workers, p)
	f.procs = append(f.procs, p)
	return p, nil
}

// Workers returns the worker processes started so far.
func (f *Fleet) Workers() []*Proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Proc(nil), f.workers...)
}

func (f *Fleet) start(name, binary string, env []string) (*Proc, error) {
	logf, err := os.Create(filepath.Join(f.logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(f.bin, binary))
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Stop asks every process that still runs to drain (SIGTERM, all at once) and waits for
// each, killing one that has not exited 20 s later.
func (f *Fleet) Stop() {
	f.mu.Lock()
	procs := append([]*Proc(nil), f.procs...)
	f.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		if !p.Exited() {
			_ = p.Stop(20 * time.Second)
		}
	}
}

// Kill ends the process with SIGKILL, as a crash would.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop asks the process to drain with SIGTERM and waits up to timeout for it to exit; it
// returns the process's exit error (nil for exit 0).
func (p *Proc) Stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of SIGTERM", p.Name, timeout)
	}
}

// Pid is the process's id, e.g. to read /proc/<pid>/status.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Result is what one run of the client binary did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// run runs one of the binaries to its end with the fleet's environment plus env.
func (f *Fleet) run(binary string, env []string, args ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(f.bin, binary), args...)
	cmd.Env = append(append([]string(nil), f.env...), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		return r, fmt.Errorf("running %s %v: %w", binary, args, err)
	}
	return r, nil
}

// LiveWorkers counts the workers the dispatcher reports alive.
func (f *Fleet) LiveWorkers() int {
	r, err := f.run("client", nil, "workers", "--json")
	if err != nil || r.Code != 0 {
		return 0
	}
	return strings.Count(r.Stdout, `"workerId"`)
}

// Logs returns a process's output so far (for failure messages).
func (f *Fleet) Logs(name string) string {
	b, _ := os.ReadFile(filepath.Join(f.logDir, name+".log"))
	return string(b)
}

// poll checks cond every 100 ms until it holds, or says what it waited for in vain.
func poll(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port), nil
}
