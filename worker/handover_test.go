package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/internal/rendezvous"
	"github.com/warrenhq/warren/queues"
)

// memConn is a worker's connection to the in-memory broker.
type memConn struct{ *membroker.Conn }

func (c memConn) Consume(ctx context.Context, queue string, prefetch int, handle func(*queues.Delivery)) (Subscription, error) {
	return c.Conn.Consume(ctx, queue, prefetch, handle)
}

// A partition that leaves a worker while a message of it waits in the worker's inbox, is
// moved on by another worker (here: a new execution begins), and comes back, is read from
// the store again: the worker neither serves what it knew before nor drops or loops on the
// new execution's messages (issue 8, defect 4). Driven step by step on the in-memory
// broker and store.
func TestPartitionComingBackIsReadAgain(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	const hub = "h"
	store := memstore.New(memstore.Options{Now: clock})
	must(t, store.EnsureHub(ctx, 1))
	broker := membroker.New(membroker.Options{Hub: hub, Partitions: 1, Now: clock})
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Twice", func(ctx *durable.OrchestrationContext, n int) (string, error) {
		if n == 0 {
			if err := ctx.WaitForExternalEvent("next", 0).Await(nil); err != nil {
				return "", err
			}
			ctx.ContinueAsNew(1)
			return "", nil
		}
		var s string
		err := ctx.CallActivity("Echo", "second").Await(&s)
		return s, err
	}))
	must(t, durable.AddActivity(r, "Echo", func(_ context.Context, s string) (string, error) { return s, nil }))

	// Two worker ids of which the second owns the only partition once both are live.
	first, second := "", ""
	for i := 0; second == ""; i++ {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		if rendezvous.Owner(0, []string{a, b}) == b {
			first, second = a, b
		}
	}
	newWorker := func(id string) *Steps {
		w, err := New(Config{Hub: hub, Partitions: 1, WorkerID: id, Now: clock,
			HeartbeatInterval: time.Second, DeadAfter: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)}, store, memConn{broker.Connect(id)}, r)
		must(t, err)
		s := w.Steps(nil)
		must(t, s.Subscribe(ctx))
		return s
	}
	deliverAll := func() {
		for rs := broker.Ready(); len(rs) > 0; rs = broker.Ready() {
			broker.Deliver(rs[0])
		}
	}
	publish := func(id string, ev history.Event) {
		body, _ := json.Marshal(history.ControlMessage{InstanceID: "x", Event: ev})
		must(t, broker.Connect("client").Publish(ctx, queues.ControlQueue(hub, 0),
			queues.Message{ID: id, Kind: string(ev.Kind), InstanceID: "x", Body: body}))
	}

	w1 := newWorker(first)
	w1.Heartbeat(ctx)
	publish("start", history.Event{Version: history.SchemaVersion, Kind: history.ExecutionStarted,
		Name: "Twice", Input: json.RawMessage(`0`), ExecutionID: "e1"})
	deliverAll()
	w1.Batch(ctx) // the first execution waits for "next"; w1 caches it

	// "next" reaches w1's inbox, then a second worker joins and w1 gives the partition up.
	publish("next", history.Event{Version: history.SchemaVersion, Kind: history.EventRaised, Name: "next"})
	deliverAll()
	w2 := newWorker(second)
	w2.Heartbeat(ctx)
	w1.Heartbeat(ctx)
	if got := w1.Owned(); len(got) != 0 {
		t.Fatalf("%s still owns %v after %s joined", first, got, second)
	}
	w1.Batch(ctx) // whatever the inbox still held of the partition
	w2.Heartbeat(ctx)
	deliverAll()
	w2.Batch(ctx) // "next": the first execution continues as new
	deliverAll()
	w2.Batch(ctx) // the second execution begins and schedules its activity
	w2.FlushDocs(ctx)
	inst, err := store.GetInstance(ctx, "x")
	must(t, err)
	if inst.ExecutionID == "e1" || inst.Status != history.StatusRunning {
		t.Fatalf("after the hand-over: %+v, want the second execution running", inst)
	}

	// The second worker leaves before the activity runs; the partition comes back to w1.
	w2.Leave(ctx)
	now = now.Add(time.Second)
	w1.Heartbeat(ctx)
	for step := 0; step < 50; step++ {
		deliverAll()
		for w1.Activities() > 0 {
			w1.RunActivity(ctx, 0)
		}
		deliverAll()
		w1.Batch(ctx)
		w1.FlushDocs(ctx)
		if inst, err = store.GetInstance(ctx, "x"); err == nil && inst.Status.Terminal() {
			break
		}
	}
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"second"` {
		t.Fatalf("after the partition came back: %+v, want Completed with \"second\"", inst)
	}
}
