package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/scrape"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/retrypolicy"
)

// scrapeWorker reads the worker's /metrics as Prometheus would.
func scrapeWorker(t *testing.T, s *Steps) scrape.Samples {
	t.Helper()
	rec := httptest.NewRecorder()
	s.w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	samples, err := scrape.Parse(rec.Body)
	must(t, err)
	return samples
}

// After real work the worker's metrics count what ran: episodes, activities by name and
// outcome with their durations, retries, the ended executions, dead letters by reason,
// the cache, and the gauges of partitions and inbox.
func TestMetricsCountWhatRan(t *testing.T) {
	ran := 0
	r := helloTwice(t, &ran)
	flaky := 0
	must(t, durable.AddOrchestrator(r, "Flaky", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var s string
		err := ctx.CallActivity("Wobble", nil, durable.WithRetry(retrypolicy.Policy{MaxAttempts: 2, FirstInterval: time.Second})).Await(&s)
		return s, err
	}))
	must(t, durable.AddActivity(r, "Wobble", func(context.Context, any) (string, error) {
		if flaky++; flaky == 1 {
			return "", errors.New("not yet")
		}
		return "steady", nil
	}))
	f := newFleet(t, r, nil, nil)
	w, _ := f.worker("w1")
	const n = 3
	for i := range n {
		f.start(fmt.Sprintf("two-%d", i), "Two", `"bob"`)
	}
	f.start("flaky", "Flaky", "null")
	// A control message no worker can read goes to the dead-letter queue.
	must(t, f.broker.Connect("poison").Publish(context.Background(), queues.ControlQueue("h", 0),
		queues.Message{ID: "garbage", Kind: "TaskCompleted", InstanceID: "two-0", Body: []byte("{not json")}))
	f.run(w)
	f.now = f.now.Add(2 * time.Second) // the retry's timer is due
	for i := range n {
		if inst := f.settle(w, fmt.Sprintf("two-%d", i)); inst.Status != history.StatusCompleted {
			t.Fatalf("instance %d: %+v, want Completed", i, inst)
		}
	}
	if inst := f.settle(w, "flaky"); inst.Status != history.StatusCompleted {
		t.Fatalf("flaky: %+v, want Completed after a retry", inst)
	}

	m := scrapeWorker(t, w)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		// Two: start, first result, second result; Flaky: start, failure (schedules the
		// retry's timer), timer (schedules attempt 2), result.
		{"warren_worker_episodes_total", nil, 3*n + 4},
		{"warren_worker_orchestrations_ended_total", []string{"status", "Completed"}, n + 1},
		{"warren_worker_activities_total", []string{"activity", "Greet", "outcome", "completed"}, 2 * n},
		{"warren_worker_activity_duration_seconds_count", []string{"activity", "Greet", "outcome", "completed"}, 2 * n},
		{"warren_worker_activities_total", []string{"activity", "Wobble", "outcome", "failed"}, 1},
		{"warren_worker_activities_total", []string{"activity", "Wobble", "outcome", "completed"}, 1},
		{"warren_worker_activity_retries_total", []string{"activity", "Wobble"}, 1},
		{"warren_worker_dead_letters_total", []string{"reason", deadUndecodable}, 1},
		{"warren_worker_partitions_owned", nil, 1},
		{"warren_worker_inbox_messages", nil, 0},
		{"warren_worker_activities_in_flight", nil, 0},
		{"warren_worker_documents_owed", nil, 0},
		{"warren_worker_store_errors_total", nil, 0},
		{"warren_worker_broker_errors_total", nil, 0},
	} {
		if got := m.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if ran != 2*n {
		t.Errorf("Greet ran %d times, want %d", ran, 2*n)
	}
	for _, step := range batchSteps {
		if m.Value("warren_worker_episode_step_duration_seconds_count", "step", step) == 0 {
			t.Errorf("no batch observed for step %s", step)
		}
	}
	if m.Value("warren_worker_cache_hits_total") == 0 {
		t.Error("no cache hit counted, though every episode after the first found its state cached")
	}
	if !m.Has("go_goroutines") || !m.Has("process_cpu_seconds_total") {
		t.Error("the Go runtime's and the process's metrics are missing")
	}
}

// A failing store shows in warren_worker_store_errors_total by operation, and in /readyz.
func TestMetricsCountStoreErrors(t *testing.T) {
	var down atomic.Bool
	f := newFleet(t, helloTwice(t, new(int)), func(memstore.Op) memstore.Fault {
		if down.Load() {
			return memstore.Fault{Err: errors.New("store away")}
		}
		return memstore.Fault{}
	}, nil)
	w, _ := f.worker("w1")
	down.Store(true)
	w.Heartbeat(context.Background())
	if got := scrapeWorker(t, w).Value("warren_worker_store_errors_total", "op", "heartbeat"); got != 1 {
		t.Fatalf("store errors for heartbeat = %v, want 1", got)
	}
	rec := httptest.NewRecorder()
	w.w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"store":"not answering"`) ||
		strings.Contains(rec.Body.String(), "store away") {
		t.Fatalf("/readyz with the store away: %d %s", rec.Code, rec.Body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFleet(t, helloTwice(t, new(int)), nil, nil)
	w, _ := f.worker("w1") // its first heartbeat is written
	get := func(path string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		w.w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var body map[string]any
		must(t, json.Unmarshal(rec.Body.Bytes(), &body))
		return rec.Code, body
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz %d %v, want ready", code, body)
	}
	f.now = f.now.Add(10 * time.Second) // no heartbeat since: older than DeadAfter (5 s)
	code, body := get("/readyz")
	checks, _ := body["checks"].(map[string]any)
	if code != http.StatusServiceUnavailable || checks["heartbeat"] == "ok" || checks["store"] != "ok" {
		t.Fatalf("/readyz with a stale heartbeat: %d %v", code, body)
	}
	w.Heartbeat(context.Background())
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz after a heartbeat: %d %v", code, body)
	}
	w.w.draining.Store(true)
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while draining: %d %v", code, body)
	}
}

// What the metrics add to one batch of one episode with one activity: five step
// observations, the episode, a cache hit, the activity and the end of its execution. A
// batch itself takes milliseconds (a store round trip and a confirmed publish).
func BenchmarkMetricsOfABatch(b *testing.B) {
	w, err := New(Config{Hub: "h", Partitions: 1}, memstore.New(memstore.Options{}), nil, durable.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	m := w.metrics
	b.ReportAllocs()
	for b.Loop() {
		m.batchTook(time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond)
		m.episodes.Inc()
		m.cacheHits.Inc()
		m.activity("SayHello", outcomeCompleted, time.Millisecond)
		m.executionEnded(history.StatusCompleted)
	}
}
