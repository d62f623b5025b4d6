package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/queues"
)

// threeSteps registers "Three", which calls the activity "Step" with 1, 2 and 3 in turn and
// joins what they return, and counts the runs of each step.
func threeSteps(t *testing.T) (*durable.Registry, func(int) int) {
	t.Helper()
	var mu sync.Mutex
	runs := map[int]int{}
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Three", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var parts []string
		for i := 1; i <= 3; i++ {
			var s string
			if err := ctx.CallActivity("Step", i).Await(&s); err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}))
	must(t, durable.AddActivity(r, "Step", func(_ context.Context, i int) (string, error) {
		mu.Lock()
		runs[i]++
		mu.Unlock()
		return fmt.Sprint("s", i), nil
	}))
	return r, func(i int) int {
		mu.Lock()
		defer mu.Unlock()
		return runs[i]
	}
}

// threeRanOnce checks that "Three" completed with each step run once.
func threeRanOnce(t *testing.T, inst *history.Instance, runs func(int) int) {
	t.Helper()
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"s1,s2,s3"` {
		t.Fatalf("instance %s %s, want Completed with \"s1,s2,s3\"", inst.Status, inst.Output)
	}
	for i := 1; i <= 3; i++ {
		if n := runs(i); n != 1 {
			t.Errorf("step %d ran %d times, want once", i, n)
		}
	}
}

// inPlaceWorker is a stepped worker that runs activities in place, each result in an
// episode of its own (no folding).
func (f *fleet) inPlaceWorker(id string) (*Steps, *membroker.Conn) {
	return f.workerConn(id, Config{InPlaceActivities: 4, InPlaceWait: -1})
}

// An orchestration whose worker registers its activities runs them in place: the broker
// carries its start and nothing else, and the start is acked once the last result is
// committed.
func TestActivitiesRunInPlaceSendOnlyTheStart(t *testing.T) {
	r, runs := threeSteps(t)
	f := newFleet(t, r, nil, nil)
	w, _ := f.inPlaceWorker("w")
	f.start("three", "Three", "null")
	threeRanOnce(t, f.settle(w, "three"), runs)
	if st := f.broker.Stats(queues.WorkItemQueue("h")); st.Enqueued != 0 {
		t.Errorf("%d work items went through the queue, want none", st.Enqueued)
	}
	st := f.broker.Stats(queues.ControlQueue("h", 0))
	if st.Enqueued != 1 || st.Acked != 1 {
		t.Errorf("control queue: %d messages in, %d acked; want the start alone, acked", st.Enqueued, st.Acked)
	}
	if n := f.broker.Unacked(); n != 0 {
		t.Errorf("%d deliveries left unacked", n)
	}
	if n := scrapeWorker(t, w).Value("warren_worker_activities_in_place_total"); n != 3 {
		t.Errorf("warren_worker_activities_in_place_total = %v, want 3", n)
	}
	eps, err := f.store.LoadHistory(context.Background(), "three", "e1")
	must(t, err)
	for _, ep := range eps {
		if want := ep.Number > 1; ep.Chained != want {
			t.Errorf("episode %d chained = %v, want %v (it consumed a result run in place)", ep.Number, ep.Chained, want)
		}
	}
}

// A worker that dies in the middle of a chain loses nothing: the broker hands the start it
// kept unacked to the next worker, which sends again the work item whose result was not
// committed — only that one — and the orchestration completes.
func TestWorkerDyingMidChainRunsOnlyThePendingActivityAgain(t *testing.T) {
	ctx := context.Background()
	r, runs := threeSteps(t)
	f := newFleet(t, r, nil, nil)
	w1, conn1 := f.inPlaceWorker("w1")
	f.start("three", "Three", "null")
	f.run1(w1) // the start: step 1 runs in place
	if w1.Activities() != 1 {
		t.Fatalf("%d activities to run after the first episode, want step 1 in place", w1.Activities())
	}
	w1.RunActivity(ctx, 0)
	w1.Batch(ctx) // step 1's result: step 2 runs in place
	w1.RunActivity(ctx, 0)
	if runs(1) != 1 || runs(2) != 1 || w1.Inbox() != 1 {
		t.Fatalf("runs %d/%d, inbox %d; want steps 1 and 2 run and step 2's result waiting", runs(1), runs(2), w1.Inbox())
	}
	if n := f.broker.Unacked(); n != 1 {
		t.Fatalf("%d deliveries unacked, want the start kept as the anchor", n)
	}
	_ = conn1.Close() // w1 dies before committing step 2's result

	// Its heartbeat lapses, and w2, which sends every work item through the queue, takes over.
	f.now = f.now.Add(10 * time.Second)
	w2, _ := f.workerConn("w2", Config{InPlaceActivities: -1})
	inst := f.settle(w2, "three")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"s1,s2,s3"` {
		t.Fatalf("instance %s %s, want Completed with \"s1,s2,s3\"", inst.Status, inst.Output)
	}
	if runs(1) != 1 || runs(2) != 2 || runs(3) != 1 {
		t.Errorf("steps ran %d, %d, %d times; want 1, 2 (its result was lost with w1), 1", runs(1), runs(2), runs(3))
	}
	if st := f.broker.Stats(queues.WorkItemQueue("h")); st.Enqueued != 2 {
		t.Errorf("%d work items went through the queue, want steps 2 (sent again) and 3 (w2 runs none in place)", st.Enqueued)
	}
}

// The resend of a redelivered input covers the chained episodes after it and leaves out
// work items whose result history holds.
func TestResendCoversTheChainAndSkipsSettledTasks(t *testing.T) {
	item := func(task int64) history.OutboxMessage {
		body, _ := json.Marshal(history.ActivityRequest{InstanceID: "i", ExecutionID: "e", TaskID: task, Name: "Step"})
		return history.OutboxMessage{ID: fmt.Sprintf("i/e/%d/activity", task), Kind: history.MessageKindActivity, InstanceID: "i", Body: body}
	}
	timer := history.OutboxMessage{ID: "i/e/9/timer", Kind: string(history.TimerFired), InstanceID: "i", Body: []byte(`{}`), DueAt: time.Unix(60, 0)}
	done := func(task int64) history.Event {
		return history.Event{Kind: history.TaskCompleted, TaskID: task}
	}
	st := newState(history.Instance{InstanceID: "i", ExecutionID: "e"}, []history.Episode{
		{Number: 1, Outbox: []history.OutboxMessage{item(1)}, Consumed: []string{"start"}},
		{Number: 2, Chained: true, Events: []history.Event{done(1)}, Outbox: []history.OutboxMessage{item(2), timer}, Consumed: []string{"i/e/1/activity/result"}},
		{Number: 3, Chained: true, Events: []history.Event{done(2)}, Outbox: []history.OutboxMessage{item(3)}, Consumed: []string{"i/e/2/activity/result"}},
		{Number: 4, Outbox: []history.OutboxMessage{item(4)}, Consumed: []string{"event"}},
	})
	out, eps := st.resendFrom(1)
	var ids []string
	for _, m := range out {
		ids = append(ids, m.ID)
	}
	if got, want := strings.Join(ids, " "), "i/e/9/timer i/e/3/activity"; got != want {
		t.Errorf("resend of episode 1 sends %q, want %q (task 1 and 2 have results; episode 4 is not chained)", got, want)
	}
	if fmt.Sprint(eps) != "[1 2 3]" {
		t.Errorf("episodes resent %v, want [1 2 3]", eps)
	}
	if out, _ := st.resendFrom(4); len(out) != 1 || out[0].ID != "i/e/4/activity" {
		t.Errorf("resend of episode 4 sends %v, want its own work item", out)
	}
}

// A work item that cannot go on in place (here: its run is handed off) goes to the
// work-item queue, and the anchors are acked once nothing runs in place for them.
func TestHandedOffWorkItemGoesToTheQueue(t *testing.T) {
	r, runs := threeSteps(t)
	f := newFleet(t, r, nil, nil)
	w, _ := f.inPlaceWorker("w")
	f.start("three", "Three", "null")
	f.run1(w)
	if w.Activities() != 1 {
		t.Fatalf("%d activities to run, want step 1 in place", w.Activities())
	}
	it := inPlaceItem(w.w.stepItems[0])
	if !w.w.handOff(it) {
		t.Fatal("a running item was not handed off")
	}
	if w.w.handOff(it) {
		t.Fatal("an item was handed off twice")
	}
	if got := f.broker.Pending(queues.WorkItemQueue("h")); len(got) != 1 || got[0].ID != it.msg.ID {
		t.Fatalf("work-item queue holds %v, want step 1's work item", got)
	}
	if n := f.broker.Unacked(); n != 0 {
		t.Fatalf("%d deliveries unacked after the hand-off, want the anchor acked", n)
	}
	// The run in place finishes anyway; its result is dropped, the queue's copy answers.
	w.RunActivity(context.Background(), 0)
	if w.Inbox() != 0 {
		t.Fatalf("the handed-off run put %d messages in the inbox, want none", w.Inbox())
	}
	inst := f.settle(w, "three")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"s1,s2,s3"` {
		t.Fatalf("instance %s %s, want Completed with \"s1,s2,s3\"", inst.Status, inst.Output)
	}
	if runs(1) != 2 {
		t.Errorf("step 1 ran %d times, want twice (in place, then from the queue)", runs(1))
	}
}

// Events a continue-as-new keeps travel inside the next start as well: the new execution
// has them from its first episode, and their own messages are copies.
func TestContinueAsNewStartCarriesKeptEvents(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Twice", func(ctx *durable.OrchestrationContext, n int) (int, error) {
		if n == 0 {
			if err := ctx.CallActivity("Noop", nil).Await(nil); err != nil {
				return 0, err
			}
			ctx.ContinueAsNew(1, durable.KeepEvents())
			return 0, nil
		}
		var v int
		err := ctx.WaitForExternalEvent("v", 0).Await(&v)
		return v, err
	}))
	must(t, durable.AddActivity(r, "Noop", func(context.Context, any) (any, error) { return nil, nil }))
	f := newFleet(t, r, nil, nil)
	w, _ := f.inPlaceWorker("w")
	ctx := context.Background()
	f.start("twice", "Twice", "0")
	f.run1(w) // the start: Noop runs in place
	// The event arrives while the first execution runs; it is carried over.
	f.send("twice", "ev-1", history.Event{Version: 1, Kind: history.EventRaised, Name: "v", Input: json.RawMessage("7")})
	f.run1(w)
	for w.Activities() > 0 {
		w.RunActivity(ctx, 0)
	}
	// Only the in-place result is processed, not the messages of the next execution.
	for w.Inbox() > 0 {
		w.Batch(ctx)
	}
	next := f.broker.Pending(queues.ControlQueue("h", 0))
	if len(next) != 2 {
		t.Fatalf("control queue holds %d messages, want the next start and its kept event", len(next))
	}
	var start history.ControlMessage
	must(t, json.Unmarshal(next[0].Body, &start))
	if len(start.Event.Carried) != 1 || start.Event.Carried[0].Name != "v" {
		t.Fatalf("next start carries %+v, want the event v", start.Event.Carried)
	}
	// Deliver the start alone and run it: the execution ends with the carried event.
	f.broker.Deliver(f.broker.Ready()[0])
	w.Batch(ctx)
	w.FlushDocs(ctx)
	inst, err := f.store.GetInstance(ctx, "twice")
	must(t, err)
	if inst.Status != history.StatusCompleted || string(inst.Output) != "7" {
		t.Fatalf("after its start alone: instance %s %s, want Completed with 7", inst.Status, inst.Output)
	}
	inst = f.settle(w, "twice") // the event's own message is a copy
	if inst.Status != history.StatusCompleted || string(inst.Output) != "7" {
		t.Fatalf("instance %s %s, want Completed with 7", inst.Status, inst.Output)
	}
}

// run1 delivers what is ready and processes one batch.
func (f *fleet) run1(s *Steps) {
	f.broker.Tick()
	for rs := f.broker.Ready(); len(rs) > 0; rs = f.broker.Ready() {
		f.broker.Deliver(rs[0])
	}
	s.Batch(context.Background())
}

// While a worker of an older release is live (its heartbeat says schema 3), nothing runs in
// place: it would not send again the outboxes of chained episodes if it took over a chain.
func TestNothingRunsInPlaceWhileAnOlderWorkerIsLive(t *testing.T) {
	r, _ := threeSteps(t)
	f := newFleet(t, r, nil, nil)
	w, _ := f.inPlaceWorker("w")
	// What the heartbeat read of the live workers (the ownership it decides is not the point).
	w.w.noteVersions([]history.WorkerInfo{{WorkerID: "w", SchemaVersion: history.SchemaVersion}, {WorkerID: "older", SchemaVersion: chainedSchema - 1}})
	f.start("three", "Three", "null")
	f.run1(w)
	if got := f.broker.Pending(queues.WorkItemQueue("h")); len(got) != 1 || w.Activities() != 0 {
		t.Fatalf("%d work items queued, %d to run in place; want the first step queued", len(got), w.Activities())
	}
}

// A chain whose anchor's connection has dropped is dead (the broker has handed the anchor
// to another consumer): a drain does not wait for it.
func TestDeadChainsDoNotHoldUpTheDrain(t *testing.T) {
	r, _ := threeSteps(t)
	f := newFleet(t, r, nil, nil)
	w, conn := f.inPlaceWorker("w")
	f.start("three", "Three", "null")
	f.run1(w) // the start: step 1 runs in place, the start kept as its anchor
	if n := w.w.chainCount(); n != 1 {
		t.Fatalf("%d chains alive, want step 1's", n)
	}
	_ = conn.Close() // the anchor's channel is gone
	if n := w.w.chainCount(); n != 0 {
		t.Errorf("%d chains alive after their anchor's connection dropped, want none for a drain to wait for", n)
	}
}
