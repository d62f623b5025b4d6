package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
)

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, env := range []string{"WARREN_AMQP_URL", "WARREN_MONGO_URI", "WARREN_HUB", "WARREN_PARTITIONS", "WARREN_HTTP_ADDR", "WARREN_TOKEN", "WARREN_MAX_BODY_BYTES", "WARREN_STARTUP_TIMEOUT", "WARREN_LOG_LEVEL"} {
		if !strings.Contains(out.String(), env) {
			t.Errorf("--help does not name %s:\n%s", env, out.String())
		}
	}
}

func TestConfigFromEnvAndFlags(t *testing.T) {
	// services.sh run exports the URLs of the services it started; the defaults are under test here.
	t.Setenv("WARREN_AMQP_URL", "")
	t.Setenv("WARREN_MONGO_URI", "")
	t.Setenv("WARREN_HUB", "envhub")
	t.Setenv("WARREN_PARTITIONS", "8")
	t.Setenv("WARREN_TOKEN", "tok")
	o, err := parse([]string{"--http-addr", "127.0.0.1:9999"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if o.Hub != "envhub" || o.Partitions != 8 || o.Token != "tok" || o.HTTPAddr != "127.0.0.1:9999" ||
		o.AMQPURL != "amqp://guest:guest@127.0.0.1:5672/" || o.MongoURI != "mongodb://127.0.0.1:27017" || o.MaxBodyBytes != 1<<20 {
		t.Fatalf("config %+v", o.Config)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Setenv("WARREN_PARTITIONS", "lots")
	var out bytes.Buffer
	if code := run(context.Background(), nil, &out); code != 2 || !strings.Contains(out.String(), "WARREN_PARTITIONS") {
		t.Fatalf("exit %d, output %s", code, out.String())
	}
	t.Setenv("WARREN_PARTITIONS", "")
	if code := run(context.Background(), []string{"--log-level", "loud"}, &out); code != 2 {
		t.Fatalf("bad log level exited %d", code)
	}
	if code := run(context.Background(), []string{"extra"}, &out); code != 2 {
		t.Fatalf("stray argument exited %d", code)
	}
	if code := run(context.Background(), []string{"--startup-timeout", "-1s"}, &out); code != 2 {
		t.Fatalf("a negative startup timeout exited %d", code)
	}
}

// The binary's run against the real broker and store: it becomes ready, refuses a start
// nobody can run, logs no password, and exits 0 when its context ends.
func TestRunServesUntilCancelled(t *testing.T) {
	testenv.RequireRabbitMQ(t)
	testenv.RequireMongo(t)
	hub := testenv.UniqueName("dispbin")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("WARREN_AMQP_URL", testenv.AMQPURL())
	t.Setenv("WARREN_MONGO_URI", testenv.MongoURI())
	t.Setenv("WARREN_HUB", hub)
	t.Setenv("WARREN_PARTITIONS", "2")
	t.Setenv("WARREN_HTTP_ADDR", addr)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if c, err := queues.Dial(ctx, queues.Config{URL: testenv.AMQPURL(), Hub: hub, Partitions: 2}); err == nil {
			if err := c.DeleteTopology(ctx); err != nil {
				t.Errorf("deleting the hub's queues: %v", err)
			}
			c.Close()
		}
		if s, err := mongostore.Open(ctx, mongostore.Options{URI: testenv.MongoURI(), Hub: hub}); err == nil {
			_ = s.DropHub(ctx)
			_ = s.Close(ctx)
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, &logs) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("dispatcher exited %d before it was ready:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dispatcher not ready after 30 s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Post("http://"+addr+"/v1/instances", "application/json", strings.NewReader(`{"name":"Hello"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("start with no live worker: %d", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel:\n%s", code, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("dispatcher did not stop within 20 s of its context ending")
	}
	if u, _ := url.Parse(testenv.AMQPURL()); u != nil {
		if pw, ok := u.User.Password(); ok && strings.Contains(logs.String(), ":"+pw+"@") {
			t.Fatalf("the log shows the broker password:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "dispatcher listening") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMain runs the binary's main instead of the tests when the environment asks for it,
// so that a test can start the dispatcher as a process of its own and signal it.
func TestMain(m *testing.M) {
	if os.Getenv("WARREN_TEST_RUN_DISPATCHER") != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

// silentBroker is a broker that accepts connections and never says a word (or something
// else on its port). It returns an AMQP URL with a password, and the host:port.
func silentBroker(t *testing.T) (amqpURL, hostport string) {
	hostport = testenv.SilentListener(t)
	return "amqp://warren:s3cret-pw@" + hostport + "/", hostport
}

// startupEnv points the binary at the test store and at amqpURL, under a fresh hub that the
// test drops at the end.
func startupEnv(t *testing.T, amqpURL string) []string {
	hub := testenv.UniqueName("dispstart")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if s, err := mongostore.Open(ctx, mongostore.Options{URI: testenv.MongoURI(), Hub: hub}); err == nil {
			_ = s.DropHub(ctx)
			_ = s.Close(ctx)
		}
	})
	return []string{"WARREN_AMQP_URL=" + amqpURL, "WARREN_MONGO_URI=" + testenv.MongoURI(), "WARREN_HUB=" + hub,
		"WARREN_PARTITIONS=2", "WARREN_HTTP_ADDR=127.0.0.1:0"}
}

// A broker that accepts the connection and never answers makes the binary give up at the
// startup deadline with an error that names the broker (without its password), not hang.
func TestServicesStartupGivesUpOnASilentBroker(t *testing.T) {
	testenv.RequireMongo(t)
	amqpURL, hostport := silentBroker(t)
	for _, kv := range startupEnv(t, amqpURL) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	const timeout = 2 * time.Second
	var logs syncBuffer
	done := make(chan int, 1)
	began := time.Now()
	go func() { done <- run(context.Background(), []string{"--startup-timeout", timeout.String()}, &logs) }()
	select {
	case code := <-done:
		took := time.Since(began)
		if code == 0 || took < timeout {
			t.Fatalf("exit %d after %s:\n%s", code, took, logs.String())
		}
	case <-time.After(timeout + 2*time.Second):
		t.Fatalf("still starting %s after a startup timeout of %s:\n%s", time.Since(began), timeout, logs.String())
	}
	out := logs.String()
	if !strings.Contains(out, "cannot start") || !strings.Contains(out, "broker at amqp://warren:xxxxx@"+hostport) ||
		!strings.Contains(out, "--startup-timeout") || strings.Contains(out, "s3cret-pw") {
		t.Fatalf("the error does not name the broker (redacted) and the timeout:\n%s", out)
	}
}

// The same for a store that never answers; this needs no services at all.
func TestStartupGivesUpOnASilentStore(t *testing.T) {
	_, hostport := silentBroker(t) // as silent for the MongoDB protocol
	t.Setenv("WARREN_MONGO_URI", "mongodb://warren:s3cret-pw@"+hostport+"/")
	t.Setenv("WARREN_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/")
	t.Setenv("WARREN_HUB", testenv.UniqueName("dispstart"))
	var logs syncBuffer
	began := time.Now()
	code := run(context.Background(), []string{"--startup-timeout", "1s"}, &logs)
	took := time.Since(began)
	out := logs.String()
	if code != 1 || took > 3*time.Second || !strings.Contains(out, "store at mongodb://warren:xxxxx@"+hostport) ||
		!strings.Contains(out, "within 1s") || strings.Contains(out, "s3cret-pw") {
		t.Fatalf("exit %d after %s:\n%s", code, took, out)
	}
}

// SIGTERM while the binary waits for a silent broker stops it at once.
func TestServicesSIGTERMDuringStartup(t *testing.T) {
	testenv.RequireMongo(t)
	amqpURL, _ := silentBroker(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append(startupEnv(t, amqpURL), "WARREN_TEST_RUN_DISPATCHER=1", "WARREN_STARTUP_TIMEOUT=60s")...)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// "connecting" is logged before the store is opened; the store answers at once, so
	// a moment later the binary waits on the broker.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "connecting") {
		if time.Now().After(deadline) {
			t.Fatalf("the dispatcher did not start connecting:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	select {
	case err := <-exited:
		if err != nil || !strings.Contains(logs.String(), "stopped before startup finished") {
			t.Fatalf("exit %v after SIGTERM during startup:\n%s", err, logs.String())
		}
		// Well under the startup timeout (60 s) and an AMQP handshake's own (5 s); the
		// race detector alone adds a second at exit.
		if took := time.Since(began); took > 3*time.Second {
			t.Fatalf("took %s to stop after SIGTERM:\n%s", took, logs.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the dispatcher ignored SIGTERM during startup:\n%s", logs.String())
	}
}
