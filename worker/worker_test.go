package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
)

// rig is one in-process worker on its own hub, with a store and a broker connection of
// the test's own to look at what the worker did.
type rig struct {
	t     *testing.T
	cfg   Config
	store *mongostore.Store
	conn  *queues.Conn
	stop  context.CancelFunc
	done  chan error
	w     *Worker
}

func startRig(t *testing.T, r *durable.Registry, tune ...func(*Config)) *rig {
	t.Helper()
	testenv.RequireRabbitMQ(t)
	testenv.RequireMongo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{AMQPURL: testenv.AMQPURL(), MongoURI: testenv.MongoURI(), Hub: testenv.UniqueName("wk"),
		Partitions: 2, HeartbeatInterval: 200 * time.Millisecond, DeadAfter: 2 * time.Second, DrainTimeout: 10 * time.Second}
	for _, f := range tune {
		f(&cfg)
	}
	store, err := mongostore.Open(ctx, mongostore.Options{URI: cfg.MongoURI, Hub: cfg.Hub})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := queues.Dial(ctx, queues.Config{URL: cfg.AMQPURL, Hub: cfg.Hub, Partitions: cfg.Partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = conn.DeleteTopology(ctx)
		conn.Close()
		_ = store.DropHub(ctx)
		store.Close(ctx)
	})
	w, err := Open(ctx, cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	rg := &rig{t: t, cfg: w.cfg, store: store, conn: conn, stop: stop, done: make(chan error, 1), w: w}
	go func() { rg.done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-rg.done
	})
	return rg
}

// start creates an instance as the dispatcher does and sends its start message with the
// given message id.
func (rg *rig) start(id, name, messageID string) history.Event {
	rg.t.Helper()
	now := time.Now().UTC()
	ev := history.Event{Version: history.SchemaVersion, Kind: history.ExecutionStarted, Timestamp: now,
		Name: name, Input: json.RawMessage(`null`), ExecutionID: "exec-1"}
	inst := &history.Instance{InstanceID: id, Name: name, ExecutionID: "exec-1", Status: history.StatusPending, CreatedAt: now, LastUpdatedAt: now}
	if err := rg.store.CreateInstance(context.Background(), inst); err != nil {
		rg.t.Fatal(err)
	}
	rg.send(id, messageID, ev)
	return ev
}

func (rg *rig) send(id, messageID string, ev history.Event) {
	rg.t.Helper()
	body, _ := json.Marshal(history.ControlMessage{InstanceID: id, Event: ev})
	q := queues.ControlQueue(rg.cfg.Hub, queues.PartitionOf(id, rg.cfg.Partitions))
	if err := rg.conn.Publish(context.Background(), q, queues.Message{ID: messageID, Kind: string(ev.Kind), InstanceID: id, Body: body}); err != nil {
		rg.t.Fatal(err)
	}
}

func (rg *rig) waitStatus(id string, want history.Status) *history.Instance {
	rg.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		inst, err := rg.store.GetInstance(context.Background(), id)
		if err == nil && inst.Status == want {
			return inst
		}
		if time.Now().After(deadline) {
			rg.t.Fatalf("instance %s: %+v (err %v), want status %s", id, inst, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (rg *rig) events(id string) []history.Event {
	rg.t.Helper()
	eps, err := rg.store.LoadHistory(context.Background(), id, "exec-1")
	if err != nil {
		rg.t.Fatal(err)
	}
	var evs []history.Event
	for _, ep := range eps {
		evs = append(evs, ep.Events...)
	}
	return evs
}

// A copy of a consumed message that the broker did not redeliver (here the start, published
// again under its id, as a duplicate publish or a resent timer would be) is recognised and
// acked, and does not send its episode's outbox again: the activity runs once (issue 8,
// defect 1: before, every such copy re-sent the next episode's messages, down the chain).
func TestCopyOfConsumedMessageSendsNothingAgain(t *testing.T) {
	var runs atomic.Int32
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Once", func(ctx *durable.OrchestrationContext, _ any) (int, error) {
		var n int
		if err := ctx.CallActivity("Count", nil).Await(&n); err != nil {
			return 0, err
		}
		return n, ctx.WaitForExternalEvent("go", 0).Await(nil)
	}))
	must(t, durable.AddActivity(r, "Count", func(ctx context.Context, _ any) (int, error) {
		return int(runs.Add(1)), nil
	}))
	rg := startRig(t, r)
	ev := rg.start("once-1", "Once", "start-message-1")
	rg.waitFor("the first result in history", func() bool { return count(rg.events("once-1"), history.TaskCompleted) == 1 })
	rg.send("once-1", "start-message-1", ev) // the same message again, not a redelivery
	// Sent after the copy, on the same queue, the event is processed after it.
	rg.send("once-1", "go-1", history.Event{Version: history.SchemaVersion, Kind: history.EventRaised, Name: "go"})
	inst := rg.waitStatus("once-1", history.StatusCompleted)
	// A request sent again with the copy's batch, before the event's, would be running or
	// done by now.
	rg.waitFor("no activity in flight", func() bool { return rg.w.inFlight.Load() == 0 })
	evs := rg.events("once-1")
	if s, sc, c := count(evs, history.ExecutionStarted), count(evs, history.TaskScheduled), count(evs, history.TaskCompleted); s != 1 || sc != 1 || c != 1 {
		t.Fatalf("history has %d starts, %d scheduled, %d results; want 1 each", s, sc, c)
	}
	if string(inst.Output) != "1" || runs.Load() != 1 {
		t.Fatalf("output %s after %d runs of the activity, want 1 after 1", inst.Output, runs.Load())
	}
}

func count(evs []history.Event, kind history.Kind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func (rg *rig) waitFor(what string, cond func() bool) {
	rg.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			rg.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cancelling Run drains the worker: it returns nil and leaves the live set at once.
func TestRunDrainsAndLeavesTheFleet(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Noop", func(ctx *durable.OrchestrationContext, _ any) (int, error) { return 0, nil }))
	rg := startRig(t, r)
	deadline := time.Now().Add(10 * time.Second)
	for len(rg.w.OwnedPartitions()) != rg.cfg.Partitions {
		if time.Now().After(deadline) {
			t.Fatalf("owns %v of %d partitions", rg.w.OwnedPartitions(), rg.cfg.Partitions)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rg.stop()
	select {
	case err := <-rg.done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
		rg.done <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	live, err := rg.store.LiveWorkers(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 0 {
		t.Fatalf("live workers after drain: %+v", live)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A durable timer whose message the broker lost (here: purged from the timer ladder) is sent
// again by the worker once it is overdue, and the orchestration completes.
func TestLostTimerIsSentAgain(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Nap", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		return "woke", ctx.CreateTimer(300 * time.Millisecond).Await(nil)
	}))
	rg := startRig(t, r, func(c *Config) { c.TimerGrace = time.Second })
	rg.start("nap-1", "Nap", "start-nap-1")
	rg.waitFor("the timer in history", func() bool { return count(rg.events("nap-1"), history.TimerCreated) == 1 })
	conn, err := amqp.Dial(rg.cfg.AMQPURL)
	must(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	must(t, err)
	purged := 0
	for k := 0; k < queues.DefaultTimerLevels; k++ {
		n, err := ch.QueuePurge(fmt.Sprintf("%s.delay.%02d", rg.cfg.Hub, k), false)
		must(t, err)
		purged += n
	}
	if purged != 1 {
		t.Fatalf("purged %d messages from the timer ladder, want the one timer", purged)
	}
	inst := rg.waitStatus("nap-1", history.StatusCompleted)
	if string(inst.Output) != `"woke"` {
		t.Fatalf("output %s", inst.Output)
	}
}

// When an instance ends, the worker announces it, so that waiters need not poll the store.
func TestEndedInstanceIsAnnounced(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Quick", func(ctx *durable.OrchestrationContext, _ any) (int, error) { return 7, nil }))
	rg := startRig(t, r)
	heard := make(chan string, 10)
	k, err := rg.conn.Listen(context.Background(), "test", func(d *queues.Delivery) {
		if d.Kind == history.MessageKindEnded {
			heard <- d.InstanceID
		}
		_ = d.Ack()
	})
	must(t, err)
	defer func() {
		k.Cancel()
		_ = rg.conn.StopListening(context.Background(), "test")
	}()
	rg.start("quick-1", "Quick", "start-quick-1")
	select {
	case id := <-heard:
		if id != "quick-1" {
			t.Fatalf("announced %q, want quick-1", id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no announcement that quick-1 ended")
	}
	if inst := rg.waitStatus("quick-1", history.StatusCompleted); string(inst.Output) != "7" {
		t.Fatalf("output %s", inst.Output)
	}
}
