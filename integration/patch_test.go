package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/worker"
)

const patchPartitions = 4

// greetCode is Greet: Hello, wait for "ready", say goodbye (how is the change under test),
// wait for "go".
func greetCode(bye func(ctx *durable.OrchestrationContext) string) func(*durable.OrchestrationContext, string) (string, error) {
	return func(ctx *durable.OrchestrationContext, name string) (string, error) {
		var hello, goodbye string
		if err := ctx.CallActivity("Hello", name).Await(&hello); err != nil {
			return "", err
		}
		if err := ctx.WaitForExternalEvent("ready", 0).Await(nil); err != nil {
			return "", err
		}
		if err := ctx.CallActivity(bye(ctx), name).Await(&goodbye); err != nil {
			return "", err
		}
		return hello + " " + goodbye, ctx.WaitForExternalEvent("go", 0).Await(nil)
	}
}

var (
	greetV1 = greetCode(func(*durable.OrchestrationContext) string { return "Bye" })
	greetV2 = greetCode(func(ctx *durable.OrchestrationContext) string {
		if ctx.IsPatched("bye-in-french") {
			return "Salut"
		}
		return "Bye"
	})
)

func greetRegistry(t *testing.T, code func(*durable.OrchestrationContext, string) (string, error)) *durable.Registry {
	t.Helper()
	r := durable.NewRegistry()
	word := func(w string) func(context.Context, string) (string, error) {
		return func(_ context.Context, name string) (string, error) { return w + " " + name, nil }
	}
	if err := errors.Join(durable.AddOrchestrator(r, "Greet", code), durable.AddActivity(r, "Hello", word("Hello")),
		durable.AddActivity(r, "Bye", word("Bye")), durable.AddActivity(r, "Salut", word("Salut"))); err != nil {
		t.Fatal(err)
	}
	return r
}

// A rolling deploy of a patched orchestrator on RabbitMQ and FerretDB: an instance that
// passed the patch point under v1 finishes on the old branch under v2, one that gets there
// after the deploy and a new one take the new branch; the history v1 recorded replays
// under v2 (durabletest.ReplayFile), and the new branch's history does not replay under v1.
func TestPatchedOrchestratorAcrossADeploy(t *testing.T) {
	testenv.RequireRabbitMQ(t)
	testenv.RequireMongo(t)
	hub := testenv.UniqueName("patch")
	c := startDispatcher(t, hub)
	ctx := context.Background()

	stopV1 := startWorker(t, c, hub, "v1", greetRegistry(t, greetV1))
	for _, id := range []string{"old", "mid"} {
		if _, err := c.Start(ctx, "Greet", json.RawMessage(`"Ann"`), client.WithInstanceID(id)); err != nil {
			t.Fatal(err)
		}
	}
	waitForEvents(t, c, "mid", history.TaskCompleted, 1) // Hello ran; waiting for "ready"
	noErr(t, c.Raise(ctx, "old", "ready", nil))
	waitForEvents(t, c, "old", history.TaskCompleted, 2) // Bye ran; waiting for "go"
	v1File := recordHistory(t, c, "old")
	stopV1()

	regV2 := greetRegistry(t, greetV2)
	if err := durabletest.ReplayFile(regV2, v1File); err != nil {
		t.Fatalf("v1's recorded history under v2: %v", err)
	}
	startWorker(t, c, hub, "v2", regV2)
	if _, err := c.Start(ctx, "Greet", json.RawMessage(`"Ann"`), client.WithInstanceID("new")); err != nil {
		t.Fatal(err)
	}
	noErr(t, c.Raise(ctx, "mid", "ready", nil))
	noErr(t, c.Raise(ctx, "new", "ready", nil))
	for id, want := range map[string]string{"old": "Hello Ann Bye Ann", "mid": "Hello Ann Salut Ann", "new": "Hello Ann Salut Ann"} {
		noErr(t, c.Raise(ctx, id, "go", nil))
		st, err := c.Wait(ctx, id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var out string
		if st.Status != history.StatusCompleted || json.Unmarshal(st.Output, &out) != nil || out != want {
			t.Fatalf("%s ended %s with %s (failure %v), want %q", id, st.Status, st.Output, st.Failure, want)
		}
		f := recordHistory(t, c, id)
		markers := count(readEvents(t, f), history.PatchMarker, "bye-in-french")
		if wantMarkers := map[bool]int{true: 1, false: 0}[id != "old"]; markers != wantMarkers {
			t.Fatalf("%s's history has %d patch markers, want %d", id, markers, wantMarkers)
		}
		if err := durabletest.ReplayFile(regV2, f); err != nil {
			t.Fatalf("%s's history under v2: %v", id, err)
		}
		var nd *durable.NonDeterminismError
		if err := durabletest.ReplayFile(greetRegistry(t, greetV1), f); (id == "old") != (err == nil) || (err != nil && !errors.As(err, &nd)) {
			t.Fatalf("%s's history under v1: %v", id, err)
		}
	}
}

// startDispatcher runs a dispatcher in process on hub and returns a client of it; the
// hub's queues and database are deleted when the test ends.
func startDispatcher(t *testing.T, hub string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := dispatcher.Open(ctx, dispatcher.Config{AMQPURL: testenv.AMQPURL(), MongoURI: testenv.MongoURI(), Hub: hub,
		Partitions: patchPartitions, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = d.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if conn, err := queues.Dial(ctx, queues.Config{URL: testenv.AMQPURL(), Hub: hub, Partitions: patchPartitions}); err == nil {
			_ = conn.DeleteTopology(ctx)
			_ = conn.Close()
		}
		if store, err := mongostore.Open(ctx, mongostore.Options{URI: testenv.MongoURI(), Hub: hub}); err == nil {
			_ = store.DropHub(ctx)
			_ = store.Close(ctx)
		}
	})
	return client.New(srv.URL)
}

// startWorker runs worker id in process on hub with reg until the returned function (or
// the test's end) stops it; the dispatcher c lists it when startWorker returns.
func startWorker(t *testing.T, c *client.Client, hub, id string, reg *durable.Registry) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := worker.Open(ctx, worker.Config{AMQPURL: testenv.AMQPURL(), MongoURI: testenv.MongoURI(), Hub: hub,
		Partitions: patchPartitions, WorkerID: id, HeartbeatInterval: 200 * time.Millisecond, DeadAfter: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, reg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancelRun := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancelRun()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	t.Cleanup(stop)
	fleettest.WaitUntil(t, 30*time.Second, "worker "+id+" joined", func() bool {
		wr, err := c.Workers(context.Background())
		if err != nil {
			return false
		}
		for _, w := range wr.Workers {
			if w.WorkerID == id {
				return true
			}
		}
		return false
	})
	return stop
}

// waitForEvents waits until the instance's history holds n events of kind.
func waitForEvents(t *testing.T, c *client.Client, id string, kind history.Kind, n int) {
	t.Helper()
	fleettest.WaitUntil(t, time.Minute, id+" has "+string(kind), func() bool {
		sh, err := c.History(context.Background(), id)
		return err == nil && count(sh.History, kind, "") >= n
	})
}

// recordHistory writes the instance's status and history to a file, as `client history
// ID --json` does, and returns its path.
func recordHistory(t *testing.T, c *client.Client, id string) string {
	t.Helper()
	sh, err := c.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(sh, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), id+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readEvents(t *testing.T, path string) []history.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sh api.StatusWithHistory
	if err := json.Unmarshal(data, &sh); err != nil {
		t.Fatal(err)
	}
	return sh.History
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
