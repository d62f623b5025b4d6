package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// waitRegistry has orchestrator Wait, which waits for event Go and returns its data.
func waitRegistry(t *testing.T) *durable.Registry {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Wait", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var s string
		err := ctx.WaitForExternalEvent("Go", 0).Await(&s)
		return s, err
	}))
	return r
}

// waiting starts instance "w" of Wait on a worker "old" and runs it until it waits.
func waiting(t *testing.T) (*fleet, *Steps) {
	f := newFleet(t, waitRegistry(t), nil, nil)
	old := f.workerWith("old", Config{})
	f.start("w", "Wait", "null")
	f.settle(old, "w")
	return f, old
}

// newerJoins writes the heartbeat of a worker one schema version ahead and has s read it.
func (f *fleet) newerJoins(s *Steps) {
	must(f.t, f.store.Heartbeat(context.Background(), history.WorkerInfo{WorkerID: "newer", SchemaVersion: history.SchemaVersion + 1}))
	s.Heartbeat(context.Background())
}

// send publishes ev to instance id's control queue under message id mid.
func (f *fleet) send(id, mid string, ev history.Event) {
	body, _ := json.Marshal(history.ControlMessage{InstanceID: id, Event: ev})
	must(f.t, f.broker.Connect("sender").Publish(context.Background(), queues.ControlQueue("h", 0),
		queues.Message{ID: mid, Kind: string(ev.Kind), InstanceID: id, Body: body}))
}

// A control message of a kind this build does not know waits, while a newer worker is
// live, for a worker that reads it: it goes back to its queue as a fresh copy (its delivery
// count starts again), and the instance's messages behind it wait with it instead of
// overtaking it. Once no newer worker is live it is dead-lettered with the reason, and the
// rest goes on.
func TestMessageOfANewerVersionWaitsWhileANewerWorkerIsLive(t *testing.T) {
	ctx := context.Background()
	f, old := waiting(t)
	f.newerJoins(old)

	f.send("w", "rewind", history.Event{Version: history.SchemaVersion, Kind: "TaskRewound"})
	f.send("w", "go", history.Event{Version: history.SchemaVersion, Kind: history.EventRaised, Name: "Go", Input: json.RawMessage(`"went"`)})
	for round := 0; round < 3; round++ { // each round the copies come back and wait again
		f.deliverAll()
		old.Batch(ctx)
		if n := f.broker.Scheduled(); n != 2 {
			t.Fatalf("round %d: %d messages scheduled, want both back in their queue", round, n)
		}
		if dead := f.broker.DeadLetters(); len(dead) != 0 {
			t.Fatalf("round %d: dead letters %+v while a newer worker is live", round, dead)
		}
		if n := count(flatten(mustHistory(t, f, "w")), history.EventRaised); n != 0 {
			t.Fatalf("round %d: the event behind the unreadable message was applied ahead of it", round)
		}
		f.now = f.now.Add(deferDelay)
		f.broker.Tick()
		must(t, f.store.Heartbeat(ctx, history.WorkerInfo{WorkerID: "newer", SchemaVersion: history.SchemaVersion + 1}))
		old.Heartbeat(ctx)
	}
	f.deliverAll()
	old.w.inbox.mu.Lock()
	for _, d := range old.w.inbox.items {
		if d.DeliveryCount != 1 {
			t.Errorf("message %s comes back on delivery %d, want 1: waiting must not spend the delivery limit", d.ID, d.DeliveryCount)
		}
	}
	old.w.inbox.mu.Unlock()
	if got := scrapeWorker(t, old).Value("warren_worker_deferred_to_newer_total", "queue", "control"); got != 6 {
		t.Fatalf("warren_worker_deferred_to_newer_total{queue=control} = %v, want 6", got)
	}
	if got := scrapeWorker(t, old).Value("warren_worker_newer_worker_live"); got != 1 {
		t.Fatalf("warren_worker_newer_worker_live = %v, want 1", got)
	}

	// The newer worker is gone (a rollback): the message no live worker reads is
	// dead-lettered, with its reason, and the event behind it is applied.
	f.now = f.now.Add(10 * time.Second)
	old.Heartbeat(ctx)
	old.Heartbeat(ctx) // the first after a gap leaves things as they are
	inst := f.settle(old, "w")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"went"` {
		t.Fatalf("instance %s output %s, want Completed with the event's data", inst.Status, inst.Output)
	}
	dead := f.broker.DeadLetters()
	if len(dead) != 1 || dead[0].ID != "rewind" || !strings.Contains(dead[0].Reason, "no live worker reads a newer schema") {
		t.Fatalf("dead letters %+v, want the unreadable message with its reason", dead)
	}
}

// An instance whose history holds an event this build cannot read is not run (replaying
// it could misread it, and failing it would end an instance a newer worker runs): its
// messages wait for a newer worker while one is live, and are dead-lettered, the instance
// left as it is, when none is.
func TestHistoryOfANewerVersionIsLeftToANewerWorker(t *testing.T) {
	ctx := context.Background()
	f, old := waiting(t)
	// A newer worker added episode 2 with an event of a kind this build does not know.
	must(t, f.store.Heartbeat(ctx, history.WorkerInfo{WorkerID: "newer", SchemaVersion: history.SchemaVersion + 1}))
	errs := f.store.CommitEpisodes(ctx, []*history.Episode{{InstanceID: "w", ExecutionID: "e1", Number: 2, Events: []history.Event{
		{Version: history.SchemaVersion + 1, Kind: "OrchestratorRewound", Timestamp: f.now}}}})
	must(t, errs[0])
	old.Leave(ctx) // its cache goes with it
	old = f.workerWith("old2", Config{})

	f.send("w", "go", history.Event{Version: history.SchemaVersion, Kind: history.EventRaised, Name: "Go", Input: json.RawMessage(`"went"`)})
	f.deliverAll()
	old.Batch(ctx)
	if n, dead := f.broker.Scheduled(), f.broker.DeadLetters(); n != 1 || len(dead) != 0 {
		t.Fatalf("%d scheduled, dead letters %+v; want the event waiting for the newer worker", n, dead)
	}

	f.now = f.now.Add(10 * time.Second) // the newer worker is gone
	old.Heartbeat(ctx)
	old.Heartbeat(ctx)
	f.broker.Tick()
	f.run(old)
	dead := f.broker.DeadLetters()
	if len(dead) != 1 || dead[0].ID != "go" || !strings.Contains(dead[0].Reason, "cannot read the instance's history") {
		t.Fatalf("dead letters %+v, want the event with its reason", dead)
	}
	eps := mustHistory(t, f, "w")
	if len(eps) != 2 {
		t.Fatalf("%d episodes, want the 2 there were: an old worker must not add to a newer history", len(eps))
	}
}

// A work item a newer version wrote is handed on while a newer worker is live, and
// dead-lettered with the reason otherwise.
func TestWorkItemOfANewerVersionIsHandedOn(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, waitRegistry(t), nil, nil)
	old := f.workerWith("old", Config{})
	f.newerJoins(old)
	body := []byte(fmt.Sprintf(`{"v":%d,"instanceId":"w","name":"Future","taskId":1}`, history.SchemaVersion+1))
	must(t, f.broker.Connect("sender").Publish(ctx, queues.WorkItemQueue("h"),
		queues.Message{ID: "item", Kind: history.MessageKindActivity, InstanceID: "w", Body: body}))
	f.deliverAll()
	old.RunActivity(ctx, 0)
	if n, dead := f.broker.Scheduled(), f.broker.DeadLetters(); n != 1 || len(dead) != 0 {
		t.Fatalf("%d scheduled, dead letters %+v; want the work item handed on", n, dead)
	}
	if got := scrapeWorker(t, old).Value("warren_worker_deferred_to_newer_total", "queue", "workitems"); got != 1 {
		t.Fatalf("warren_worker_deferred_to_newer_total{queue=workitems} = %v, want 1", got)
	}

	f.now = f.now.Add(10 * time.Second)
	old.Heartbeat(ctx)
	old.Heartbeat(ctx)
	f.broker.Tick()
	f.deliverAll()
	old.RunActivity(ctx, 0)
	dead := f.broker.DeadLetters()
	if len(dead) != 1 || dead[0].ID != "item" || !strings.Contains(dead[0].Reason, fmt.Sprintf("activity request of version %d", history.SchemaVersion+1)) {
		t.Fatalf("dead letters %+v, want the work item with its reason", dead)
	}
}
