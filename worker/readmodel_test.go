package worker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// helloTwice is an orchestration of two activities in a row; ran counts the activity's runs.
func helloTwice(t *testing.T, ran *int) *durable.Registry {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Two", func(ctx *durable.OrchestrationContext, name string) (string, error) {
		var a, b string
		if err := ctx.CallActivity("Greet", name).Await(&a); err != nil {
			return "", err
		}
		err := ctx.CallActivity("Greet", a).Await(&b)
		return b, err
	}))
	must(t, durable.AddActivity(r, "Greet", func(_ context.Context, s string) (string, error) { *ran++; return "hi " + s, nil }))
	return r
}

// The instance document follows the history: nothing is written while the worker runs the
// episodes, the ended execution is announced at once with its document, and one flush
// writes the document once, Completed.
func TestDocumentIsWrittenOnceAfterTheEpisodes(t *testing.T) {
	ran := 0
	f := newFleet(t, helloTwice(t, &ran), nil, nil)
	w, _ := f.worker("w1")
	f.start("x", "Two", `"bob"`)
	f.run(w)
	ctx := context.Background()
	inst, err := f.store.GetInstance(ctx, "x")
	must(t, err)
	if inst.Status != history.StatusPending || w.DocsOwed() != 1 {
		t.Fatalf("before the flush: document %s, %d owed; want the dispatcher's Pending one and 1 owed", inst.Status, w.DocsOwed())
	}
	ann := f.broker.Announced()
	if len(ann) != 1 || ann[0].InstanceID != "x" {
		t.Fatalf("announced %+v, want the one ended instance", ann)
	}
	var doc history.Instance
	if err := json.Unmarshal(ann[0].Body, &doc); err != nil || doc.Status != history.StatusCompleted || string(doc.Output) != `"hi hi bob"` {
		t.Fatalf("announcement body %s (%v), want the Completed document", ann[0].Body, err)
	}
	w.FlushDocs(ctx)
	inst, err = f.store.GetInstance(ctx, "x")
	must(t, err)
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"hi hi bob"` || w.DocsOwed() != 0 {
		t.Fatalf("after the flush: %+v, %d owed; want Completed with \"hi hi bob\"", inst, w.DocsOwed())
	}
	if !inst.CreatedAt.Equal(doc.CreatedAt) {
		t.Errorf("the announced document was created at %v, the stored one at %v", doc.CreatedAt, inst.CreatedAt)
	}
}

// A worker that dies owing documents leaves them behind their history; the worker that
// takes the partition repairs them from the history when it warms it, without a message.
func TestNextOwnerRepairsADocumentItsLastOwnerOwed(t *testing.T) {
	ran := 0
	f := newFleet(t, helloTwice(t, &ran), nil, nil)
	w1, conn1 := f.worker("w1")
	f.start("x", "Two", `"ann"`)
	f.run(w1)
	if w1.DocsOwed() != 1 {
		t.Fatalf("%d documents owed, want 1", w1.DocsOwed())
	}
	_ = conn1.Close() // w1 dies without writing it
	f.now = f.now.Add(10 * time.Second)
	w2, _ := f.worker("w2")
	w2.SweepTimers(context.Background()) // warms the partition it took
	inst := f.settle(w2, "x")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"hi hi ann"` || inst.LastEpisode != 3 {
		t.Fatalf("after the next owner took the partition: %+v, want Completed at episode 3 with \"hi hi ann\"", inst)
	}
	if ran != 2 {
		t.Errorf("the activity ran %d times, want 2", ran)
	}
}

// A start presumed new that is in fact a copy of one already run (a fresh copy after the
// cache lost the instance) commits nothing twice: its first episode conflicts, the worker
// reads the store, and the copy is recognised.
func TestCopyOfAStartPresumedNewRunsNothingAgain(t *testing.T) {
	ran := 0
	f := newFleet(t, helloTwice(t, &ran), nil, nil)
	w1, conn1 := f.worker("w1")
	f.start("x", "Two", `"cy"`)
	inst := f.settle(w1, "x")
	if inst.Status != history.StatusCompleted || ran != 2 {
		t.Fatalf("first run: %s after %d activity runs", inst.Status, ran)
	}
	_ = conn1.Close()
	f.now = f.now.Add(10 * time.Second)
	w2, _ := f.worker("w2")
	// The same start again, as a new message (not a redelivery): w2 has no cache.
	var started history.ControlMessage
	for _, ep := range mustHistory(t, f, "x") {
		for _, ev := range ep.Events {
			if ev.Kind == history.ExecutionStarted {
				started = history.ControlMessage{InstanceID: "x", ExecutionID: ev.ExecutionID, Event: ev, Recorded: 1}
			}
		}
	}
	body, _ := json.Marshal(started)
	must(t, f.broker.Connect("dispatcher").Publish(context.Background(), queues.ControlQueue("h", 0),
		queues.Message{ID: "start-x-again", Kind: string(history.ExecutionStarted), InstanceID: "x", Body: body}))
	inst = f.settle(w2, "x")
	eps := mustHistory(t, f, "x")
	if inst.Status != history.StatusCompleted || ran != 2 || len(eps) != 3 {
		t.Fatalf("after the copy: %s, %d activity runs, %d episodes; want Completed, 2 runs, 3 episodes", inst.Status, ran, len(eps))
	}
	if n := len(f.broker.DeadLetters()); n != 0 {
		t.Errorf("%d messages dead-lettered, want none", n)
	}
	if n := f.broker.Unacked(); n != 0 || w2.Inbox() != 0 {
		t.Errorf("%d messages unacked, %d in the inbox; want the copy acked", n, w2.Inbox())
	}
}

func mustHistory(t *testing.T, f *fleet, id string) []history.Episode {
	t.Helper()
	inst, err := f.store.GetInstance(context.Background(), id)
	must(t, err)
	eps, err := f.store.LoadHistory(context.Background(), id, inst.ExecutionID)
	must(t, err)
	return eps
}

// A start the dispatcher gave up on and refused durably (it committed episode 1 with the
// start and a StartNotQueued failure, the start's message id consumed) does not run when
// its message turns up after all: the worker's first commit conflicts, it reads the
// history, and the start is a consumed message.
func TestStartRefusedInHistoryDoesNotRun(t *testing.T) {
	ran := 0
	f := newFleet(t, helloTwice(t, &ran), nil, nil)
	w, _ := f.worker("w1")
	ctx := context.Background()
	f.start("late", "Two", `"dee"`) // document and start message, as the dispatcher sends them
	started := history.Event{Version: history.SchemaVersion, Kind: history.ExecutionStarted, Name: "Two",
		Input: json.RawMessage(`"dee"`), ExecutionID: "e1", Timestamp: f.now}
	failed := history.Event{Version: history.SchemaVersion, Kind: history.ExecutionFailed, Timestamp: f.now,
		Failure: &history.Failure{Type: "StartNotQueued", Message: "refused"}}
	for _, err := range f.store.CommitEpisodes(ctx, []*history.Episode{{InstanceID: "late", ExecutionID: "e1", Number: 1,
		Events: []history.Event{started, failed}, Consumed: []string{"start-late"}, CommittedAt: f.now}}) {
		must(t, err)
	}
	inst := f.settle(w, "late")
	if inst.Status == history.StatusRunning || inst.Status == history.StatusCompleted {
		t.Fatalf("the refused instance's document says %s", inst.Status)
	}
	if ran != 0 || len(mustHistory(t, f, "late")) != 1 {
		t.Fatalf("the refused start ran: %d activity runs, %d episodes", ran, len(mustHistory(t, f, "late")))
	}
	if n := f.broker.Unacked(); n != 0 || w.Inbox() != 0 || len(f.broker.DeadLetters()) != 0 {
		t.Fatalf("%d unacked, %d in the inbox, %d dead letters; want the start acked", n, w.Inbox(), len(f.broker.DeadLetters()))
	}
}
