package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
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
	for _, env := range []string{"WARREN_AMQP_URL", "WARREN_MONGO_URI", "WARREN_HUB", "WARREN_PARTITIONS", "WARREN_HTTP_ADDR", "WARREN_TOKEN", "WARREN_MAX_BODY_BYTES", "WARREN_LOG_LEVEL"} {
		if !strings.Contains(out.String(), env) {
			t.Errorf("--help does not name %s:\n%s", env, out.String())
		}
	}
}

func TestConfigFromEnvAndFlags(t *testing.T) {
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
