package fleettest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
)

// Start builds the binaries (once per test binary), starts a dispatcher and the workers on
// a fresh hub (as [Launch] does) and waits until the dispatcher is ready and every worker has
// joined. When the test ends, everything it started is stopped and the hub's queues and
// database are deleted.
func Start(t testing.TB, o Options) *Fleet {
	t.Helper()
	testenv.RequireRabbitMQ(t)
	testenv.RequireMongo(t)
	if o.Partitions == 0 {
		o.Partitions = 8
	}
	o.Bin, o.Hub, o.LogDir = Binaries(t), testenv.UniqueName("it"), t.TempDir()
	// WARREN_TEST_LOG_DIR keeps every process's whole log (<hub>/<name>.log) past the test,
	// for reading what the failure message's tail leaves out.
	if dir := os.Getenv("WARREN_TEST_LOG_DIR"); dir != "" {
		o.LogDir = filepath.Join(dir, o.Hub)
		if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o.AMQPURL, o.MongoURI = testenv.AMQPURL(), testenv.MongoURI()
	f, err := newFleet(&o)
	if err != nil {
		t.Fatal(err)
	}
	f.t = t
	// An interrupted test binary runs no cleanups: stop the fleet and delete its hub then too.
	keep := testenv.OnInterrupt(f.stop)
	t.Cleanup(func() { keep(); f.stop() })
	if err := f.launch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return f
}

// stop ends a test's fleet: the processes, their logs when the test failed, the hub.
func (f *Fleet) stop() {
	f.Stop()
	if f.t.Failed() {
		for _, p := range f.procs {
			f.t.Logf("---- %s log (tail) ----\n%s", p.Name, tail(f.Logs(p.Name), 4000))
		}
	}
	deleteHub(f.t, f.Hub, f.Partitions)
}

// deleteHub deletes a test hub's queues and database.
func deleteHub(t testing.TB, hub string, partitions int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c, err := queues.Dial(ctx, queues.Config{URL: testenv.AMQPURL(), Hub: hub, Partitions: partitions}); err == nil {
		if err := c.DeleteTopology(ctx); err != nil {
			t.Logf("deleting hub %s queues: %v", hub, err)
		}
		c.Close()
	}
	if s, err := mongostore.Open(ctx, mongostore.Options{URI: testenv.MongoURI(), Hub: hub}); err == nil {
		_ = s.DropHub(ctx)
		s.Close(ctx)
	}
}

// StartWorker adds one worker process to a test's fleet.
func (f *Fleet) StartWorker() *Proc {
	f.t.Helper()
	p, err := f.startWorker()
	if err != nil {
		f.t.Fatal(err)
	}
	return p
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
	r, err := f.run(binary, env, args...)
	if err != nil {
		f.t.Fatal(err)
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

// WaitUntil polls cond every 100 ms until it holds or timeout passes, then fails the test.
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := poll(context.Background(), timeout, what, cond); err != nil {
		t.Fatal(err)
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

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
