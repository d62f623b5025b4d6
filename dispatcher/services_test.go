package dispatcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/history"
	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/tracing"
)

const servicesPartitions = 4

// servicesRig is a dispatcher on its own hub of the real broker and store, with a fake
// worker heartbeat registering "Hello", and raw access to both for inspection.
type servicesRig struct {
	hub   string
	url   string
	c     *client.Client
	store *mongostore.Store
	ch    *amqp.Channel
}

func newServicesRig(t testing.TB) *servicesRig {
	testenv.RequireRabbitMQ(t)
	testenv.RequireMongo(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hub := testenv.UniqueName("disp")
	cfg := dispatcher.Config{AMQPURL: testenv.AMQPURL(), MongoURI: testenv.MongoURI(), Hub: hub,
		Partitions: servicesPartitions, MaxBodyBytes: 4096, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d, err := dispatcher.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := mongostore.Open(ctx, mongostore.Options{URI: testenv.MongoURI(), Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = d.Close()
		if conn, err := queues.Dial(ctx, queues.Config{URL: testenv.AMQPURL(), Hub: hub, Partitions: servicesPartitions}); err == nil {
			if err := conn.DeleteTopology(ctx); err != nil {
				t.Errorf("deleting the hub's queues: %v", err)
			}
			_ = conn.Close()
		}
		if err := store.DropHub(ctx); err != nil {
			t.Errorf("dropping the hub's database: %v", err)
		}
		_ = store.Close(ctx)
	})
	// A live worker registering Hello, its heartbeat kept fresh while the test or benchmark
	// runs (a benchmark's rounds outlast the dispatcher's liveness window).
	started := time.Now().UTC()
	beat := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return store.Heartbeat(ctx, history.WorkerInfo{WorkerID: "fake-worker", Host: "test", Orchestrators: []string{"Hello"},
			HeartbeatAt: time.Now().UTC(), StartedAt: started})
	}
	if err := beat(); err != nil {
		t.Fatal(err)
	}
	stopBeat := make(chan struct{})
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopBeat:
				return
			case <-tick.C:
				_ = beat() // a missed beat shows as a refused start, which the test reports
			}
		}
	}()
	t.Cleanup(func() { close(stopBeat); <-beating })
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)

	conn, err := amqp.Dial(testenv.AMQPURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return &servicesRig{hub: hub, url: srv.URL, c: client.New(srv.URL), store: store, ch: ch}
}

// take consumes one message from queue (basic.get is not allowed on single-active-consumer
// quorum queues) and acks it.
func (r *servicesRig) take(t *testing.T, queue string) amqp.Delivery {
	t.Helper()
	ds, err := r.ch.Consume(queue, "test-take", false, false, false, false, nil)
	if err != nil {
		t.Fatalf("consume %s: %v", queue, err)
	}
	defer func() { _ = r.ch.Cancel("test-take", false) }()
	select {
	case d := <-ds:
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
		return d
	case <-time.After(10 * time.Second):
		t.Fatalf("no message on %s", queue)
	}
	return amqp.Delivery{}
}

// queued counts the messages waiting in every control queue of the hub.
func (r *servicesRig) queued(t *testing.T) map[int]int {
	t.Helper()
	out := map[int]int{}
	for p := 0; p < servicesPartitions; p++ {
		q, err := r.ch.QueueDeclarePassive(queues.ControlQueue(r.hub, p), true, false, false, false, nil)
		if err != nil {
			t.Fatalf("inspecting %s: %v", queues.ControlQueue(r.hub, p), err)
		}
		if q.Messages > 0 {
			out[p] = q.Messages
		}
	}
	return out
}

func (r *servicesRig) instances(t *testing.T) int {
	t.Helper()
	page, _, err := r.store.ListInstances(context.Background(), history.ListFilter{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page)
}

func TestServicesStartPublishesToThePartition(t *testing.T) {
	r := newServicesRig(t)
	ctx := context.Background()
	st, err := r.c.Start(ctx, "Hello", map[string]string{"who": "world"}, client.WithInstanceID("hello-1"))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := r.store.GetInstance(ctx, "hello-1")
	if err != nil || inst.Status != history.StatusPending || inst.TraceID != st.TraceID || inst.TraceID == "" {
		t.Fatalf("stored %+v, %v; answered %+v", inst, err, st)
	}
	p := queues.PartitionOf("hello-1", servicesPartitions)
	// Publisher confirms mean the message is in the queue when Start returns; the count
	// the broker reports may lag a little behind, so poll for it.
	deadline := time.Now().Add(10 * time.Second)
	for len(r.queued(t)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := r.queued(t); len(got) != 1 || got[p] != 1 {
		t.Fatalf("queued %v, want one message on partition %d", got, p)
	}
	d := r.take(t, queues.ControlQueue(r.hub, p))
	var cm history.ControlMessage
	if err := json.Unmarshal(d.Body, &cm); err != nil {
		t.Fatal(err)
	}
	if d.Type != "ExecutionStarted" || d.MessageId == "" || d.Headers["x-instance-id"] != "hello-1" ||
		tracing.OrchestrationSpanContext(cm.Event).TraceID().String() != inst.TraceID ||
		cm.Event.Kind != history.ExecutionStarted || cm.Event.ExecutionID != inst.ExecutionID ||
		string(cm.Event.Input) != `{"who":"world"}` || cm.Event.Trace == nil || len(cm.Event.Trace.SpanID) != 16 {
		t.Fatalf("delivery type=%q id=%q headers=%v body=%s", d.Type, d.MessageId, d.Headers, d.Body)
	}

	// A second start of the live id is refused and sends nothing.
	_, err = r.c.Start(ctx, "Hello", nil, client.WithInstanceID("hello-1"))
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusConflict {
		t.Fatalf("second start: %v", err)
	}
	if got := r.queued(t); len(got) != 0 {
		t.Fatalf("a refused start published: %v", got)
	}

	// Raise reaches the same partition; the ended instance can be waited for and purged.
	if err := r.c.Raise(ctx, "hello-1", "Go", true); err != nil {
		t.Fatal(err)
	}
	if d := r.take(t, queues.ControlQueue(r.hub, p)); d.Type != "EventRaised" || !strings.Contains(string(d.Body), `"name":"Go"`) {
		t.Fatalf("raise delivered type=%q body=%s", d.Type, d.Body)
	}
	inst.Status, inst.Output = history.StatusCompleted, json.RawMessage(`"hi"`)
	if err := r.store.UpdateInstance(ctx, inst); err != nil {
		t.Fatal(err)
	}
	done, err := r.c.Wait(ctx, "hello-1", 10*time.Second)
	if err != nil || done.Status != history.StatusCompleted || string(done.Output) != `"hi"` {
		t.Fatalf("wait: %+v %v", done, err)
	}
	if err := r.c.Purge(ctx, "hello-1"); err != nil {
		t.Fatal(err)
	}
	if n := r.instances(t); n != 0 {
		t.Fatalf("%d instances after purge", n)
	}
	resp, err := http.Get(r.url + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestServicesBadInputWritesAndPublishesNothing(t *testing.T) {
	r := newServicesRig(t)
	ctx := context.Background()
	post := func(path, body string) (int, api.ErrorBody) {
		resp, err := http.Post(r.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e api.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e
	}
	cases := []struct {
		name, path, body string
		code             int
		mention          string
	}{
		{"malformed JSON", "/v1/instances", `{"name": "Hello"`, 400, "malformed JSON"},
		{"invalid instance id", "/v1/instances", `{"name":"Hello","instanceId":"no spaces please"}`, 400, "A-Z, a-z, 0-9, '_', '.', ':' and '-'"},
		{"payload over the limit", "/v1/instances", `{"name":"Hello","input":"` + strings.Repeat("x", 5000) + `"}`, 413, "4096 bytes"},
		{"unknown orchestrator", "/v1/instances", `{"name":"Goodbye"}`, 422, "registered: Hello"},
		{"event for an unknown instance", "/v1/instances/nobody/events/Ack", `true`, 404, `"nobody"`},
	}
	for _, c := range cases {
		code, e := post(c.path, c.body)
		if code != c.code || !strings.Contains(e.Error, c.mention) {
			t.Errorf("%s: %d %+v, want %d mentioning %q", c.name, code, e, c.code, c.mention)
		}
	}
	if n := r.instances(t); n != 0 {
		t.Errorf("%d instances written by bad input", n)
	}
	if got := r.queued(t); len(got) != 0 {
		t.Errorf("messages published by bad input: %v", got)
	}
	if _, err := r.store.GetInstance(ctx, "nobody"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Errorf("instance nobody: %v", err)
	}
}

// BenchmarkServicesStart measures starts through the HTTP API against the real broker and
// store (one insert and one confirmed publish each), 8 requests in flight. Beside the rate
// it reports the CPU time of this process (the dispatcher and its HTTP client) per start.
func BenchmarkServicesStart(b *testing.B) {
	r := newServicesRig(b)
	ctx := context.Background()
	prefix := testenv.UniqueName("b")
	var n atomic.Int64
	b.SetParallelism(4) // 4 × GOMAXPROCS (2 here) = 8 in flight
	cpu0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("%s-%d", prefix, n.Add(1))
			if _, err := r.c.Start(ctx, "Hello", map[string]int{"n": 1}, client.WithInstanceID(id)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "starts/s")
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/start")
}

// processCPU is the user and system CPU time this process has used so far.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Two dispatchers (or a dispatcher and workers) starting together on a new hub declare its
// queues at the same moment; neither may mistake the other's half-declared hub for one with
// another partition count.
func TestServicesConcurrentOpenOfANewHub(t *testing.T) {
	testenv.RequireRabbitMQ(t)
	testenv.RequireMongo(t)
	hub := testenv.UniqueName("dispnew")
	const partitions = 16
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if conn, err := queues.Dial(ctx, queues.Config{URL: testenv.AMQPURL(), Hub: hub, Partitions: partitions}); err == nil {
			if err := conn.DeleteTopology(ctx); err != nil {
				t.Errorf("deleting the hub's queues: %v", err)
			}
			_ = conn.Close()
		}
		if s, err := mongostore.Open(ctx, mongostore.Options{URI: testenv.MongoURI(), Hub: hub}); err == nil {
			_ = s.DropHub(ctx)
			_ = s.Close(ctx)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			d, err := dispatcher.Open(ctx, dispatcher.Config{AMQPURL: testenv.AMQPURL(), MongoURI: testenv.MongoURI(), Hub: hub,
				Partitions: partitions, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil {
				err = d.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A start whose control queue is missing is returned by the broker as unroutable: a
// definite refusal, so the instance is removed again and the answer is 503.
func TestServicesStartRefusedByTheBrokerLeavesNothing(t *testing.T) {
	r := newServicesRig(t)
	q := queues.ControlQueue(r.hub, queues.PartitionOf("lost-1", servicesPartitions))
	if _, err := r.ch.QueueDelete(q, false, false, false); err != nil {
		t.Fatalf("deleting %s: %v", q, err)
	}
	_, err := r.c.Start(context.Background(), "Hello", nil, client.WithInstanceID("lost-1"))
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable || strings.Contains(ae.Error(), "unknown") {
		t.Fatalf("start to a missing queue: %v", err)
	}
	if inst, err := r.store.GetInstance(context.Background(), "lost-1"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Fatalf("the refused start left %+v, %v", inst, err)
	}
}
