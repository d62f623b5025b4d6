// Package fleettest starts a real Warren fleet for end-to-end tests: the dispatcher and
// worker binaries as separate processes on their own hub, against the real broker and
// store, and runs the client binary against it. Everything it starts is stopped, and the
// hub's queues and database are deleted, when the test ends.
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

	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
)

// Options shape a fleet; zero fields take defaults.
type Options struct {
	Workers    int // default 3
	Partitions int // default 8
	// Env is added to every process's environment (e.g. OTEL_* settings).
	Env []string
	// WorkerEnv is added to the workers' environment after Env, so it wins over it (e.g.
	// WARREN_AMQP_URL pointing the workers at a proxy while the dispatcher dials directly).
	WorkerEnv []string
	// Endpoints gives each worker a port of its own for /healthz, /readyz and /metrics
	// (WARREN_METRICS_ADDR); Proc.EndpointsURL is its base URL.
	Endpoints bool
	// Unready starts the processes without waiting for the dispatcher to be ready or the
	// workers to join (a test of services that do not answer yet waits itself).
	Unready bool
}

// Fleet is a running dispatcher and its workers on one hub.
type Fleet struct {
	t          testing.TB
	Hub        string
	Partitions int
	URL        string // the dispatcher's base URL
	env        []string
	workerEnv  []string
	endpoints  bool
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

// Start builds the binaries (once per test binary), starts a dispatcher and the workers
// and waits until the dispatcher is ready and every worker has joined.
func Start(t testing.TB, o Options) *Fleet {
	t.Helper()
	testenv.RequireRabbitMQ(t)
	testenv.RequireMongo(t)
	if o.Workers == 0 {
		o.Workers = 3
	}
	if o.Partitions == 0 {
		o.Partitions = 8
	}
	bins := Binaries(t)
	f := &Fleet{t: t, Hub: testenv.UniqueName("it"), Partitions: o.Partitions, endpoints: o.Endpoints, logDir: t.TempDir()}
	port := freePort(t)
	f.URL = "http://127.0.0.1:" + port
	f.env = append(os.Environ(),
		"WARREN_AMQP_URL="+testenv.AMQPURL(),
		"WARREN_MONGO_URI="+testenv.MongoURI(),
		"WARREN_HUB="+f.Hub,
		fmt.Sprintf("WARREN_PARTITIONS=%d", o.Partitions),
		"WARREN_HTTP_ADDR=127.0.0.1:"+port,
		"WARREN_DISPATCHER="+f.URL,
	)
	f.env = append(f.env, o.Env...)
	f.workerEnv = append(append([]string(nil), f.env...), o.WorkerEnv...)
	// An interrupted test binary runs no cleanups: stop the fleet and delete its hub then too.
	keep := testenv.OnInterrupt(f.stop)
	t.Cleanup(func() { keep(); f.stop() })

	f.procs = append(f.procs, f.start("dispatcher", filepath.Join(bins, "dispatcher"), f.env))
	if o.Unready {
		for i := 0; i < o.Workers; i++ {
			f.StartWorker()
		}
		return f
	}
	WaitUntil(t, 30*time.Second, "dispatcher ready", func() bool {
		resp, err := http.Get(f.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	for i := 0; i < o.Workers; i++ {
		f.StartWorker()
	}
	WaitUntil(t, 30*time.Second, "workers joined", func() bool {
		return f.LiveWorkers() >= o.Workers
	})
	return f
}

// StartWorker adds one worker process to the fleet.
func (f *Fleet) StartWorker() *Proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	env, url := f.workerEnv, ""
	if f.endpoints {
		addr := "127.0.0.1:" + freePort(f.t)
		env, url = append(append([]string(nil), env...), "WARREN_METRICS_ADDR="+addr), "http://"+addr
	}
	p := f.start(fmt.Sprintf("worker-%d", len(f.workers)+1), filepath.Join(Binaries(f.t), "worker"), env)
	p.EndpointsURL = url
	f.workers = append(f.workers, p)
	f.procs = append(f.procs, p)
	return p
}

// Workers returns the worker processes started so far.
func (f *Fleet) Workers() []*Proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Proc(nil), f.workers...)
}

func (f *Fleet) start(name, bin string, env []string) *Proc {
	f.t.Helper()
	logf, err := os.Create(filepath.Join(f.logDir, name+".log"))
	if err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("starting %s: %v", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p
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

// Client runs the client binary against the fleet's dispatcher.
func (f *Fleet) Client(args ...string) Result {
	f.t.Helper()
	return f.Run("client", nil, args...)
}

// ClientRead runs a reading command of the client binary (status, history, list), and
// again while the dispatcher answers 503 unavailable ([AskAgain]).
func (f *Fleet) ClientRead(args ...string) Result {
	f.t.Helper()
	var r Result
	AskAgain(context.Background(), func() bool {
		r = f.Client(args...)
		return r.Code != 0 && strings.Contains(r.Stderr, "HTTP 503")
	})
	return r
}

// AskAgain calls ask, and again a second later while it reports that the dispatcher
// answered 503 unavailable, for up to a minute or until ctx ends. Such an answer says the
// store did not answer in time (FerretDB on SQLite on a loaded machine) and to try again,
// as a user would; a test that reads a fleet's results asks through this.
func AskAgain(ctx context.Context, ask func() (unavailable bool)) {
	deadline := time.Now().Add(time.Minute)
	for ask() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// Run runs one of the binaries to its end with the fleet's environment plus env, and
// returns what it printed and its exit code (a worker or dispatcher that refuses to start).
func (f *Fleet) Run(binary string, env []string, args ...string) Result {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(Binaries(f.t), binary), args...)
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
		f.t.Fatalf("running %s %v: %v", binary, args, err)
	}
	return r
}

// MustClient runs the client and fails the test unless it exits 0.
func (f *Fleet) MustClient(args ...string) string {
	f.t.Helper()
	r := f.Client(args...)
	if r.Code != 0 {
		f.t.Fatalf("client %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// LiveWorkers counts the workers the dispatcher reports alive.
func (f *Fleet) LiveWorkers() int {
	r := f.Client("workers", "--json")
	if r.Code != 0 {
		return 0
	}
	return strings.Count(r.Stdout, `"workerId"`)
}

// Logs returns a process's output so far (for failure messages).
func (f *Fleet) Logs(name string) string {
	b, _ := os.ReadFile(filepath.Join(f.logDir, name+".log"))
	return string(b)
}

func (f *Fleet) stop() {
	for _, p := range f.procs {
		if !p.Exited() {
			_ = p.Stop(20 * time.Second)
		}
	}
	if f.t.Failed() {
		for _, p := range f.procs {
			f.t.Logf("---- %s log (tail) ----\n%s", p.Name, tail(f.Logs(p.Name), 4000))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c, err := queues.Dial(ctx, queues.Config{URL: testenv.AMQPURL(), Hub: f.Hub, Partitions: f.Partitions}); err == nil {
		if err := c.DeleteTopology(ctx); err != nil {
			f.t.Logf("deleting hub %s queues: %v", f.Hub, err)
		}
		c.Close()
	}
	if s, err := mongostore.Open(ctx, mongostore.Options{URI: testenv.MongoURI(), Hub: f.Hub}); err == nil {
		_ = s.DropHub(ctx)
		s.Close(ctx)
	}
}

// WaitUntil polls cond every 100 ms until it holds or timeout passes, then fails the test.
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binaries builds cmd/dispatcher, cmd/worker and cmd/client once per test binary and
// returns the folder holding them; with WARREN_TEST_RACE set they are built with -race.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "warren-bin-")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-o", buildDir}
		if os.Getenv("WARREN_TEST_RACE") != "" {
			args = append(args, "-race") // the fleet's processes with the race detector
		}
		cmd := exec.Command("go", append(args, "./cmd/dispatcher", "./cmd/worker", "./cmd/client")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test's folder")
		}
		dir = parent
	}
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
