package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/queues"
)

// An orchestration whose activities are quick commits one episode in all: each activity
// runs as soon as it is decided and its result is folded into the episode that scheduled
// it. Nothing but the start crosses the broker.
func TestFoldedActivitiesCommitOneEpisode(t *testing.T) {
	r, runs := threeSteps(t)
	f := newFleet(t, r, nil, nil)
	w, _ := f.workerConn("w", Config{InPlaceActivities: 4})
	f.start("three", "Three", "null")
	f.run1(w)
	threeRanOnce(t, f.settle(w, "three"), runs)
	eps, err := f.store.LoadHistory(context.Background(), "three", "e1")
	must(t, err)
	if len(eps) != 1 {
		t.Fatalf("%d episodes committed, want 1", len(eps))
	}
	kinds := map[history.Kind]int{}
	for _, ev := range eps[0].Events {
		kinds[ev.Kind]++
	}
	if kinds[history.TaskScheduled] != 3 || kinds[history.TaskCompleted] != 3 || kinds[history.OrchestratorStarted] != 4 ||
		kinds[history.ExecutionCompleted] != 1 {
		t.Errorf("episode 1 holds %v; want 4 turns, 3 tasks scheduled and completed, and the end", kinds)
	}
	if len(eps[0].Outbox) != 0 {
		t.Errorf("episode 1's outbox holds %d messages, want none (every work item folded)", len(eps[0].Outbox))
	}
	if st := f.broker.Stats(queues.WorkItemQueue("h")); st.Enqueued != 0 {
		t.Errorf("%d work items went through the queue, want none", st.Enqueued)
	}
	if st := f.broker.Stats(queues.ControlQueue("h", 0)); st.Enqueued != 1 || st.Acked != 1 {
		t.Errorf("control queue: %d messages in, %d acked; want the start alone, acked", st.Enqueued, st.Acked)
	}
	if n := scrapeWorker(t, w).Value("warren_worker_activities_folded_total"); n != 3 {
		t.Errorf("warren_worker_activities_folded_total = %v, want 3", n)
	}
	// The folded history replays as the orchestrator's own.
	var all []history.Event
	for _, ep := range eps {
		all = append(all, ep.Events...)
	}
	must(t, durable.NewExecutor(r).Replay("three", all))
}

// A worker that dies while its episode folds commits nothing and acks nothing: the next
// owner of the partition gets the start again and runs the activities again (at least
// once), and the instance completes.
func TestWorkerDyingWhileFoldingCommitsNothing(t *testing.T) {
	ctx := context.Background()
	r, runs := threeSteps(t)
	f := newFleet(t, r, nil, nil)
	var ran atomic.Int32
	conn := f.broker.Connect("w1")
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w1", Now: f.clock, InPlaceActivities: 4,
		Logger: slog.New(slog.DiscardHandler)}, f.store, memConn{conn}, r)
	must(t, err)
	w1 := w.Steps(func(point string) bool { return point == "activity-ran" && ran.Add(1) == 2 })
	must(t, w1.Subscribe(ctx))
	w1.Heartbeat(ctx)
	f.start("three", "Three", "null")
	f.run1(w1) // step 1 folds; w1 dies once step 2 has run
	if runs(1) != 1 || runs(2) != 1 || runs(3) != 0 {
		t.Fatalf("steps ran %d, %d, %d times before the crash; want 1, 1, 0", runs(1), runs(2), runs(3))
	}
	if eps, err := f.store.LoadHistory(ctx, "three", "e1"); err != nil || len(eps) != 0 {
		t.Fatalf("%d episodes committed by a worker that died folding (%v), want none", len(eps), err)
	}
	_ = conn.Close()

	f.now = f.now.Add(10 * time.Second)
	w2, _ := f.workerConn("w2", Config{InPlaceActivities: 4})
	inst := f.settle(w2, "three")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"s1,s2,s3"` {
		t.Fatalf("instance %s %s, want Completed with \"s1,s2,s3\"", inst.Status, inst.Output)
	}
	if runs(1) != 2 || runs(2) != 2 || runs(3) != 1 {
		t.Errorf("steps ran %d, %d, %d times; want 2, 2, 1 (what w1 ran is run again)", runs(1), runs(2), runs(3))
	}
	if n := f.broker.Unacked(); n != 0 {
		t.Errorf("%d deliveries left unacked", n)
	}
}

// slowRig is a worker run by Run on the in-memory broker and store, registering
// "SlowThenQuick": the activity Slow, which waits for release (or its context's end, whose
// cause it records), then Quick.
type slowRig struct {
	store     *memstore.Store
	broker    *membroker.Broker
	release   chan struct{}
	slowRuns  atomic.Int32
	quickRuns atomic.Int32
	causes    chan error // why a run of Slow was cancelled
}

// rigFaults are what goes wrong in a slowRig: the store's and the broker's faults, and an
// in-place hold other than eagerHold.
type rigFaults struct {
	store  func(memstore.Op) memstore.Fault
	broker func(membroker.FaultPoint) membroker.Fault
	hold   time.Duration
}

func newSlowRig(t *testing.T, faults rigFaults) *slowRig {
	g := &slowRig{store: memstore.New(memstore.Options{Faults: faults.store}),
		broker: membroker.New(membroker.Options{Hub: "h", Partitions: 1, Faults: faults.broker}), release: make(chan struct{}),
		causes: make(chan error, 4)}
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "SlowThenQuick", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var a, b string
		if err := ctx.CallActivity("Slow", nil).Await(&a); err != nil {
			return "", err
		}
		err := ctx.CallActivity("Quick", nil).Await(&b)
		return a + b, err
	}))
	must(t, durable.AddActivity(r, "Slow", func(ctx context.Context, _ any) (string, error) {
		g.slowRuns.Add(1)
		select {
		case <-g.release:
			return "slow", nil
		case <-ctx.Done():
			g.causes <- context.Cause(ctx)
			return "", ctx.Err()
		}
	}))
	must(t, durable.AddActivity(r, "Quick", func(context.Context, any) (string, error) {
		g.quickRuns.Add(1)
		return "+quick", nil
	}))
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w", HeartbeatInterval: 50 * time.Millisecond,
		DeadAfter: time.Second, DocLag: 50 * time.Millisecond, InPlaceActivities: 4, InPlaceWait: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, g.store, memConn{g.broker.Connect("w")}, r)
	must(t, err)
	if faults.hold > 0 {
		w.eager.hold = faults.hold
	}
	runOnMem(t, w, g.broker)
	publishStart(t, g.store, g.broker, "x", "SlowThenQuick", "null")
	return g
}

// runOnMem runs w until the test ends, the broker handing out its deliveries as they come.
func runOnMem(t *testing.T, w *Worker, broker *membroker.Broker) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	go func() {
		for ctx.Err() == nil {
			broker.Tick()
			for _, d := range broker.Ready() {
				broker.Deliver(d)
			}
			time.Sleep(time.Millisecond)
		}
	}()
}

// publishStart records instance id (execution e1) as the dispatcher does and sends its start.
func publishStart(t *testing.T, store history.Store, broker *membroker.Broker, id, name, input string) {
	bg := context.Background()
	now := time.Now().UTC()
	must(t, store.CreateInstance(bg, &history.Instance{InstanceID: id, Name: name, ExecutionID: "e1",
		Status: history.StatusPending, Executions: 1, CreatedAt: now, LastUpdatedAt: now}))
	ev := history.Event{Version: history.SchemaVersion, Kind: history.ExecutionStarted, Name: name,
		Input: json.RawMessage(input), ExecutionID: "e1", Timestamp: now}
	body, _ := json.Marshal(history.ControlMessage{InstanceID: id, ExecutionID: "e1", Event: ev, Recorded: 1})
	must(t, broker.Connect("dispatcher").Publish(bg, queues.ControlQueue("h", 0),
		queues.Message{ID: "start-" + id, Kind: string(ev.Kind), InstanceID: id, Body: body}))
}

// completed waits for x to complete with "slow+quick".
func (g *slowRig) completed(t *testing.T) {
	t.Helper()
	var inst *history.Instance
	fleettest.WaitUntil(t, 10*time.Second, "x Completed", func() bool {
		var err error
		inst, err = g.store.GetInstance(context.Background(), "x")
		must(t, err)
		return inst.Status == history.StatusCompleted
	})
	if string(inst.Output) != `"slow+quick"` {
		t.Errorf("output %s, want \"slow+quick\"", inst.Output)
	}
}

// An activity that outlasts the batch's wait does not hold the episode: it is committed as
// scheduled and the activity goes on in place, its result committed by a later episode,
// into which the next (quick) activity folds. The slow one ran once, through no queue.
func TestActivityOutlastingTheWaitGoesOnInItsChain(t *testing.T) {
	g := newSlowRig(t, rigFaults{})
	bg := context.Background()
	// Its episode commits while it runs.
	fleettest.WaitUntil(t, 10*time.Second, "episode 1 committed while Slow runs", func() bool {
		eps, err := g.store.LoadHistory(bg, "x", "e1")
		return err == nil && len(eps) == 1 && g.slowRuns.Load() == 1
	})
	close(g.release)
	g.completed(t)
	if g.slowRuns.Load() != 1 || g.quickRuns.Load() != 1 {
		t.Errorf("Slow ran %d times and Quick %d, want once each", g.slowRuns.Load(), g.quickRuns.Load())
	}
	if st := g.broker.Stats(queues.WorkItemQueue("h")); st.Enqueued != 0 {
		t.Errorf("%d work items went through the queue, want none", st.Enqueued)
	}
	eps, err := g.store.LoadHistory(bg, "x", "e1")
	must(t, err)
	if len(eps) != 2 {
		t.Errorf("%d episodes, want 2: the start scheduling Slow, then Slow's result with Quick folded in", len(eps))
	}
}

// A folded run that outlasts the wait and then the in-place hold is handed to the
// work-item queue: the run in place is cancelled (errHandedOff), its work item goes through
// the queue, where the activity runs again, and its result is applied once.
func TestAFoldedRunOutlastingTheHoldIsHandedToTheQueue(t *testing.T) {
	g := newSlowRig(t, rigFaults{hold: 300 * time.Millisecond})
	g.cancelledThenRerun(t, errHandedOff)
	if st := g.broker.Stats(queues.WorkItemQueue("h")); st.Enqueued != 1 {
		t.Errorf("%d work items went through the queue, want 1 (Slow's)", st.Enqueued)
	}
	g.finishRerun(t)
	g.slowResultOnce(t)
}

// cancelledThenRerun waits for the first run of Slow to be cancelled, with cause want, and
// for Slow to run again.
func (g *slowRig) cancelledThenRerun(t *testing.T, want error) {
	t.Helper()
	select {
	case cause := <-g.causes:
		if !errors.Is(cause, want) {
			t.Fatalf("the first run of Slow was cancelled by %v, want %v", cause, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the first run of Slow was not cancelled (%v) within 10 s", want)
	}
	fleettest.WaitUntil(t, 10*time.Second, "Slow running again", func() bool { return g.slowRuns.Load() == 2 })
}

// finishRerun lets Slow end and checks that x completes, Slow having run twice and Quick
// once.
func (g *slowRig) finishRerun(t *testing.T) {
	t.Helper()
	close(g.release)
	g.completed(t)
	if g.slowRuns.Load() != 2 || g.quickRuns.Load() != 1 {
		t.Errorf("Slow ran %d times and Quick %d, want 2 and 1", g.slowRuns.Load(), g.quickRuns.Load())
	}
}

// slowResultOnce checks that Slow's result is in x's history once.
func (g *slowRig) slowResultOnce(t *testing.T) {
	t.Helper()
	eps, err := g.store.LoadHistory(context.Background(), "x", "e1")
	must(t, err)
	completed := 0
	for _, ep := range eps {
		for _, ev := range ep.Events {
			if ev.Kind == history.TaskCompleted && string(ev.Result) == `"slow"` {
				completed++
			}
		}
	}
	if completed != 1 {
		t.Errorf("Slow's result is in the history %d times, want once", completed)
	}
}

// When the hand-off itself fails (the broker refuses the work item), the chain is given up
// (abandon): its anchor, the episode's input, goes back to the broker, comes again as a
// redelivered input of a committed episode, and its outbox is sent again from there, Slow's
// work item with it. Slow runs again from the queue and its result is applied once.
func TestAFailedHandOffGivesTheChainUp(t *testing.T) {
	var refused atomic.Int32
	g := newSlowRig(t, rigFaults{hold: 300 * time.Millisecond, broker: func(p membroker.FaultPoint) membroker.Fault {
		if p.Queue == queues.WorkItemQueue("h") && refused.CompareAndSwap(0, 1) {
			return membroker.Fault{Drop: true}
		}
		return membroker.Fault{}
	}})
	g.cancelledThenRerun(t, errHandedOff)
	if refused.Load() != 1 {
		t.Fatal("the hand-off's publish was never refused")
	}
	if st := g.broker.Stats(queues.WorkItemQueue("h")); st.Enqueued != 1 {
		t.Errorf("%d work items went through the queue, want 1 (Slow's, sent again with the outbox)", st.Enqueued)
	}
	g.finishRerun(t)
	g.slowResultOnce(t)
}

// A run that outlasts the wait of an episode whose commit fails is cancelled (its result
// would answer a TaskScheduled no history holds); the start comes back, the next batch
// runs the activity again, and the instance completes.
func TestAFoldedRunWhoseEpisodeFailsToCommitIsCancelled(t *testing.T) {
	var commits atomic.Int32
	g := newSlowRig(t, rigFaults{store: func(op memstore.Op) memstore.Fault {
		if op.Kind == memstore.OpCommitEpisodes && commits.Add(1) == 1 {
			return memstore.Fault{Err: errors.New("the store is away")}
		}
		return memstore.Fault{}
	}})
	g.cancelledThenRerun(t, errNotFolded)
	g.finishRerun(t)
}

// An orchestration that loops over a quick activity still commits now and then: an
// episode folds at most foldRounds rounds, and the activity running when it stops goes on
// in the chain into the next.
func TestFoldingStopsAfterItsRounds(t *testing.T) {
	const steps = foldRounds + 50
	var runs atomic.Int32
	r := durable.NewRegistry()
	addLoop(t, r, "Loop", "Echo", steps)
	must(t, durable.AddActivity(r, "Echo", func(_ context.Context, i int) (int, error) {
		runs.Add(1)
		return i, nil
	}))
	f := newFleet(t, r, nil, nil)
	w, _ := f.workerConn("w", Config{InPlaceActivities: 4})
	f.start("loop", "Loop", "null")
	f.run1(w)
	eps, err := f.store.LoadHistory(context.Background(), "loop", "e1")
	must(t, err)
	if len(eps) != 1 {
		t.Fatalf("%d episodes after the first batch, want 1", len(eps))
	}
	completed := 0
	for _, ev := range eps[0].Events {
		if ev.Kind == history.TaskCompleted {
			completed++
		}
	}
	if completed != foldRounds {
		t.Errorf("the first episode folded %d results, want %d", completed, foldRounds)
	}
	inst := f.settle(w, "loop")
	if want := fmt.Sprint(steps * (steps + 1) / 2); inst.Status != history.StatusCompleted || string(inst.Output) != want {
		t.Fatalf("instance %s %s, want Completed with %s", inst.Status, inst.Output, want)
	}
	if runs.Load() != steps {
		t.Errorf("Echo ran %d times, want %d", runs.Load(), steps)
	}
	if eps, _ = f.store.LoadHistory(context.Background(), "loop", "e1"); len(eps) != 2 {
		t.Errorf("%d episodes in all, want 2", len(eps))
	}
}

// A result too large to travel inline is not folded: the activity stored it as a payload,
// and the result goes the chain's way, into the next episode, which reads it back.
func TestALargeResultIsNotFolded(t *testing.T) {
	big := strings.Repeat("x", 512)
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Big", func(ctx *durable.OrchestrationContext, _ any) (int, error) {
		var s string
		err := ctx.CallActivity("Large", nil).Await(&s)
		return len(s), err
	}))
	must(t, durable.AddActivity(r, "Large", func(context.Context, any) (string, error) { return big, nil }))
	f := newFleet(t, r, nil, nil)
	w, _ := f.workerConn("w", Config{InPlaceActivities: 4, PayloadInlineMax: 128})
	f.start("big", "Big", "null")
	inst := f.settle(w, "big")
	if inst.Status != history.StatusCompleted || string(inst.Output) != fmt.Sprint(len(big)) {
		t.Fatalf("instance %s %s, want Completed with %d", inst.Status, inst.Output, len(big))
	}
	eps, err := f.store.LoadHistory(context.Background(), "big", "e1")
	must(t, err)
	if len(eps) != 2 {
		t.Errorf("%d episodes, want 2: the large result is committed by an episode of its own", len(eps))
	}
	if n := scrapeWorker(t, w).Value("warren_worker_activities_folded_total"); n != 0 {
		t.Errorf("warren_worker_activities_folded_total = %v, want 0", n)
	}
	if st := f.broker.Stats(queues.WorkItemQueue("h")); st.Enqueued != 0 {
		t.Errorf("%d work items went through the queue, want none (the run goes on in place)", st.Enqueued)
	}
}

// Each round has a wait of its own: quick rounds that together outlast one wait still fold
// into one episode (on a busy machine a hello sequence's three rounds may take longer than
// one wait in all).
func TestRoundsOutlastingOneWaitTogetherStillFold(t *testing.T) {
	const wait, pace = 400 * time.Millisecond, 150 * time.Millisecond // 3 rounds: 450 ms > wait
	var runs atomic.Int32
	r := durable.NewRegistry()
	addLoop(t, r, "Paced", "Pace", 3)
	must(t, durable.AddActivity(r, "Pace", func(_ context.Context, i int) (int, error) {
		runs.Add(1)
		time.Sleep(pace) // the activity's own work: it takes this long
		return i, nil
	}))
	g := newTimedRig(t, r, wait)
	g.complete(t, "paced", "Paced")
	eps, err := g.store.LoadHistory(context.Background(), "paced", "e1")
	must(t, err)
	if len(eps) != 1 || runs.Load() != 3 {
		t.Errorf("%d episodes and %d runs of Pace, want 1 episode (all three rounds folded) and 3 runs", len(eps), runs.Load())
	}
}

// A round's wait counts from when its activities began, or from the start of the batch's
// folding for the first round (begun while the batch was planned), and never runs past
// foldWaits waits after that start.
func TestRoundDeadline(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	const wait = 100 * time.Millisecond
	for _, c := range []struct {
		name  string
		began time.Duration // after start
		want  time.Duration // after start
	}{
		{"first round, begun while planning", -30 * time.Millisecond, wait},
		{"a later round", 70 * time.Millisecond, 170 * time.Millisecond},
		{"a round near the limit", foldWaits*wait - 20*time.Millisecond, foldWaits * wait},
	} {
		f := &folding{runs: []*foldRun{{began: start.Add(c.began)}, {began: start.Add(c.began + time.Millisecond)}}}
		if got := f.roundDeadline(start, wait).Sub(start); got != c.want {
			t.Errorf("%s: deadline %v after start, want %v", c.name, got, c.want)
		}
	}
}

// addLoop registers orchestrator name, which calls activity with 1, 2, ... steps in turn and
// returns the sum of its int results.
func addLoop(t *testing.T, r *durable.Registry, name, activity string, steps int) {
	t.Helper()
	must(t, durable.AddOrchestrator(r, name, func(ctx *durable.OrchestrationContext, _ any) (int, error) {
		sum := 0
		for i := 1; i <= steps; i++ {
			var n int
			if err := ctx.CallActivity(activity, i).Await(&n); err != nil {
				return 0, err
			}
			sum += n
		}
		return sum, nil
	}))
}

// timedRig is a worker that runs in real time (not stepped) on in-memory parts, its
// activities run in place and folded with the wait given.
type timedRig struct {
	store  *memstore.Store
	broker *membroker.Broker
}

func newTimedRig(t *testing.T, r *durable.Registry, wait time.Duration) *timedRig {
	g := &timedRig{store: memstore.New(memstore.Options{}), broker: membroker.New(membroker.Options{Hub: "h", Partitions: 1})}
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w", HeartbeatInterval: 50 * time.Millisecond,
		DeadAfter: time.Second, DocLag: 50 * time.Millisecond, InPlaceActivities: 4, InPlaceWait: wait,
		Logger: slog.New(slog.DiscardHandler)}, g.store, memConn{g.broker.Connect("w")}, r)
	must(t, err)
	runOnMem(t, w, g.broker)
	return g
}

// complete starts instance id of orchestrator name and waits until it has completed.
func (g *timedRig) complete(t *testing.T, id, name string) {
	t.Helper()
	publishStart(t, g.store, g.broker, id, name, "null")
	fleettest.WaitUntil(t, 10*time.Second, id+" completed", func() bool {
		inst, err := g.store.GetInstance(context.Background(), id)
		return err == nil && inst.Status == history.StatusCompleted
	})
}
