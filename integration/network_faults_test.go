package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
)

// networkFault is what the links between the workers and the services suffer for a while.
type networkFault struct {
	name   string
	toxics map[string]toxic // put on both directions of both links
	// hold is how long the fault lasts at most: it is lifted earlier when every
	// orchestration of the run has ended, unless fixed is set.
	hold  time.Duration
	fixed bool
	// minRun is the fewest orchestrations to run under it, for a fault that needs a longer
	// run to act.
	minRun int
	// brokerOnly puts the toxics on the link to the broker alone.
	brokerOnly bool
}

// faultCost is what one run under a fault took.
type faultCost struct {
	wall         time.Duration // first start to last completion
	afterLift    time.Duration // fault lifted to last completion (0 when all ended before)
	endedInFault int           // orchestrations completed while the fault was on
	runs         int           // activity attempts that ran
	rerunTasks   int           // tasks whose activity ran more than once
	maxRuns      int           // most runs of one task
}

// Workers reach the broker and the store through toxiproxy, the dispatcher directly. Under
// each fault (200 ms latency with jitter, connections that work and drop every 3 s,
// connections where nothing passes and that are reset after 3 s, a black hole, a slow link) a batch of hello sequences runs; the fault lands when half of them have been
// started and is lifted after it has lasted its time. Every orchestration then completes,
// each task's result is in its history exactly once, no worker exits, and what the fault
// cost is reported against a run with no fault: wall time and activities that ran again.
// WARREN_CHAOS_LONG=1 runs 300 orchestrations per fault and a 10 s black hole; the default
// is 50 and 5 s.
func TestNetworkFaultsBetweenWorkersAndServices(t *testing.T) {
	n, blackHole, hold := 50, 5*time.Second, 8*time.Second
	if os.Getenv("WARREN_CHAOS_LONG") == "1" {
		n, blackHole, hold = 300, 10*time.Second, 60*time.Second
	}
	broker := newToxiLink(t, "broker", hostOf(t, testenv.AMQPURL(), "5672"))
	store := newToxiLink(t, "store", hostOf(t, testenv.MongoURI(), "27017"))
	runs := newActivityRuns(t)
	f := fleettest.Start(t, fleettest.Options{
		Workers: 3,
		Env: []string{
			"OTEL_EXPORTER_OTLP_ENDPOINT=" + runs.URL,
			"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
			"OTEL_TRACES_SAMPLER=always_on",
			"OTEL_BSP_SCHEDULE_DELAY=200",
			"OTEL_BSP_MAX_QUEUE_SIZE=100000",
		},
		WorkerEnv: []string{
			"WARREN_AMQP_URL=" + viaProxy(t, testenv.AMQPURL(), broker.Addr()),
			"WARREN_MONGO_URI=" + viaProxy(t, testenv.MongoURI(), store.Addr()),
		},
	})
	links := []*toxiLink{broker, store}
	// The workers joined one after the other: the baseline starts once the partitions have
	// been shared out, not while they move.
	waitPartitionsShared(t, f, 3)

	faults := []networkFault{
		{name: "none"},
		{name: "latency 200ms±50ms", hold: hold, toxics: map[string]toxic{
			"latency": {"latency", map[string]any{"latency": 200, "jitter": 50}},
		}},
		// Between the workers and the broker only: the store link gets the variant below, where
		// nothing passes. 800 orchestrations keep the run going for several of the 3 s
		// lifetimes after the fault lands (300 had all ended before the first connection
		// dropped).
		{name: "broker connections reset every 3s", hold: hold, minRun: 800, brokerOnly: true, toxics: map[string]toxic{
			"close": {"close_after", map[string]any{"timeout": 3000}},
		}},
		{name: "nothing passes, connections reset after 3s", hold: hold, toxics: map[string]toxic{
			"reset": {"reset_peer", map[string]any{"timeout": 3000}},
		}},
		{name: fmt.Sprintf("black hole %s", blackHole), hold: blackHole, fixed: true, toxics: map[string]toxic{
			"blackhole": {"timeout", map[string]any{"timeout": 0}},
		}},
		{name: "slow link 64KB/s sliced", hold: hold, toxics: map[string]toxic{
			"bandwidth": {"bandwidth", map[string]any{"rate": 64}},
			"slicer":    {"slicer", map[string]any{"average_size": 256, "size_variation": 128, "delay": 500}},
		}},
	}
	var baseline time.Duration
	for _, fault := range faults {
		ok := t.Run(fault.name, func(t *testing.T) {
			n := max(n, fault.minRun)
			cost := runUnderFault(t, f, links, runs, fault, n)
			rerun := cost.runs - 5*n
			if fault.toxics == nil {
				baseline = cost.wall
				if rerun != 0 {
					t.Errorf("%d activity runs beyond the %d scheduled with no fault", rerun, 5*n)
				}
				t.Logf("FIGURE: network faults, no fault (baseline): %d HelloSequence through toxiproxy completed in %.2fs, %d activity runs for %d tasks",
					n, cost.wall.Seconds(), cost.runs, 5*n)
				return
			}
			// An activity runs again only when its result could not be sent or its work item
			// went back to the queue with a lost connection: at most a few times per task.
			if cost.maxRuns > 5 {
				t.Errorf("a task's activity ran %d times", cost.maxRuns)
			}
			t.Logf("FIGURE: network fault %q on the workers' links to broker and store, %d HelloSequence: all completed %.2fs after the first start (%.1fx the %.2fs baseline), %.2fs after the fault lifted, %d of %d while it lasted; activities re-run %d (%d of %d tasks ran more than once, at most %d times)",
				fault.name, n, cost.wall.Seconds(), cost.wall.Seconds()/baseline.Seconds(), baseline.Seconds(),
				cost.afterLift.Seconds(), cost.endedInFault, n, rerun, cost.rerunTasks, 5*n, cost.maxRuns)
		})
		if !ok {
			break // the fleet may be in no state for the next fault
		}
	}
}

// runUnderFault starts n hello sequences, puts the fault on the links when half have been
// started, lifts it after its time, waits for all n to complete and checks their histories
// and the activity runs the workers report.
func runUnderFault(t *testing.T, f *fleettest.Fleet, links []*toxiLink, runs *activityRuns, fault networkFault, n int) faultCost {
	c := client.New(f.URL)
	ctx := context.Background()
	ids := make([]string, n)
	prefix := testenv.UniqueName("net")
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	begin := time.Now()
	startAll(t, c, ids[:n/2])
	faulty := links
	if fault.brokerOnly {
		faulty = links[:1]
	}
	for name, x := range fault.toxics {
		for _, l := range faulty {
			l.add(name, x)
		}
	}
	faultOn := time.Now()
	defer func() { // lifted on every path out, so that a failure leaves the next test a clean link
		for _, l := range links {
			l.clear()
		}
	}()
	startAll(t, c, ids[n/2:])

	ended := func() (done int, failed []api.Status) {
		sts, err := c.ListAll(ctx, client.ListOptions{Name: "HelloSequence", CreatedFrom: begin.Add(-time.Second)})
		if err != nil {
			return -1, nil
		}
		for _, st := range sts {
			if !strings.HasPrefix(st.InstanceID, prefix) || !st.Status.Terminal() {
				continue
			}
			done++
			if st.Status != history.StatusCompleted {
				failed = append(failed, st)
			}
		}
		return done, failed
	}
	// The fault's own duration, not a wait for an outcome: the run is checked afterwards.
	for time.Now().Before(faultOn.Add(fault.hold)) {
		if done, _ := ended(); done == n && !fault.fixed {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, l := range links {
		l.clear()
	}
	lifted := time.Now()
	t.Logf("fault %q on %s, lifted %s", fault.name, faultOn.UTC().Format("15:04:05.000"), lifted.UTC().Format("15:04:05.000"))

	fleettest.WaitUntil(t, 3*time.Minute, fmt.Sprintf("all %d orchestrations ended after the fault lifted", n), func() bool {
		done, failed := ended()
		if len(failed) > 0 {
			t.Fatalf("%d orchestrations did not complete, e.g. %s: %s %v", len(failed), failed[0].InstanceID, failed[0].Status, failed[0].Failure)
		}
		return done == n
	})
	for _, w := range f.Workers() {
		if w.Exited() {
			t.Fatalf("%s exited during the fault:\n%s", w.Name, f.Logs(w.Name))
		}
	}
	// Workers that lost the store for longer than DeadAfter counted one another gone: they
	// have found one another again.
	waitPartitionsShared(t, f, len(f.Workers()))

	cost := faultCost{}
	var last time.Time
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer hcancel()
	for id, h := range storedHistories(hctx, t, f.Hub, ids) {
		end, problem := checkHelloHistory(id, h)
		if problem != "" {
			t.Error(problem)
			continue
		}
		if end.After(last) {
			last = end
		}
		if end.Before(lifted) {
			cost.endedInFault++
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	cost.wall = last.Sub(begin)
	if last.After(lifted) {
		cost.afterLift = last.Sub(lifted)
	}

	// Every task ran at least once; its span may reach the receiver a moment after the
	// orchestration ended, and a re-run of an activity whose first result won may come later
	// still, so the count is taken once it has stopped moving for a second.
	var per map[string]map[int64]int
	total, stableSince := -1, time.Now()
	fleettest.WaitUntil(t, 30*time.Second, "every task's activity run reported, and the count settled", func() bool {
		var err error
		if per, err = runs.of(ids); err != nil {
			t.Fatal(err)
		}
		sum := 0
		for _, tasks := range per {
			if len(tasks) < 5 {
				return false
			}
			for _, r := range tasks {
				sum += r
			}
		}
		if sum != total {
			total, stableSince = sum, time.Now()
			return false
		}
		return time.Since(stableSince) >= time.Second
	})
	for _, tasks := range per {
		for _, r := range tasks {
			cost.runs += r
			if r > 1 {
				cost.rerunTasks++
			}
			cost.maxRuns = max(cost.maxRuns, r)
		}
	}
	return cost
}

// startAll starts a HelloSequence for each id, 8 at a time, through the dispatcher.
func startAll(t *testing.T, c *client.Client, ids []string) {
	t.Helper()
	errs := make(chan error, len(ids))
	eachOf(ids, func(id string) {
		if err := startAskingAgain(c, id); err != nil {
			errs <- fmt.Errorf("starting %s: %w", id, err)
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// startAskingAgain starts a HelloSequence with instance id id, and asks again for up to a
// minute while the dispatcher answers 503 (the store did not answer in time), as a client
// would: a 409 after a 503 means the first start went through after all.
func startAskingAgain(c *client.Client, id string) error {
	var err error
	unavailable := false
	fleettest.AskAgain(context.Background(), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = c.Start(ctx, "HelloSequence", id, client.WithInstanceID(id))
		var apiErr *client.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Code == api.CodeUnavailable:
			unavailable = true
			return true
		case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusConflict && unavailable:
			err = nil
		}
		return false
	})
	return err
}

// checkHelloHistory checks a HelloSequence's history: five activities scheduled, each
// task's result recorded exactly once, no failure, one completion with the five greetings.
// It returns when the execution completed, or what is wrong.
func checkHelloHistory(id string, h []history.Event) (time.Time, string) {
	if n := count(h, history.TaskScheduled, ""); n != 5 {
		return time.Time{}, fmt.Sprintf("%s: %d activities scheduled, want 5", id, n)
	}
	if n := count(h, history.TaskFailed, ""); n != 0 {
		return time.Time{}, fmt.Sprintf("%s: %d activities failed", id, n)
	}
	results := map[int64]int{}
	var end time.Time
	var output json.RawMessage
	for _, e := range h {
		switch e.Kind {
		case history.TaskCompleted:
			results[e.TaskID]++
		case history.ExecutionCompleted:
			if !end.IsZero() {
				return time.Time{}, fmt.Sprintf("%s: completed twice", id)
			}
			end, output = e.Timestamp, e.Result
		}
	}
	if len(results) != 5 {
		return time.Time{}, fmt.Sprintf("%s: %d distinct activity results, want 5", id, len(results))
	}
	for task, n := range results {
		if n != 1 {
			return time.Time{}, fmt.Sprintf("%s: result of task %d applied %d times", id, task, n)
		}
	}
	if end.IsZero() {
		return time.Time{}, fmt.Sprintf("%s: no ExecutionCompleted in its history", id)
	}
	greeting := "Hello, " + id + "!"
	want := strings.Join([]string{greeting, greeting, greeting, greeting, greeting}, " ")
	var got string
	if json.Unmarshal(output, &got) != nil || got != want {
		return time.Time{}, fmt.Sprintf("%s: output %s, want %q", id, output, want)
	}
	return end, ""
}

// waitPartitionsShared waits until the dispatcher sees the fleet's workers live and every
// partition owned by exactly one of them, the same way for two seconds: the owners come
// from heartbeats a second apart, so one reading can show a partition's old owner before
// it has let go and its new one before it has reported taking it.
func waitPartitionsShared(t *testing.T, f *fleettest.Fleet, workers int) {
	t.Helper()
	c := client.New(f.URL)
	var last string
	var since time.Time
	fleettest.WaitUntil(t, 30*time.Second, fmt.Sprintf("%d workers live, every partition owned by one, for 2s", workers), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, err := c.Workers(ctx)
		if err != nil || len(ws.Workers) != workers {
			last = ""
			return false
		}
		owner := make([]string, f.Partitions)
		for _, w := range ws.Workers {
			for _, p := range w.Partitions {
				if p < 0 || p >= f.Partitions || owner[p] != "" {
					last = ""
					return false
				}
				owner[p] = w.WorkerID
			}
		}
		if slices.Contains(owner, "") {
			last = ""
			return false
		}
		if now := strings.Join(owner, ","); now != last {
			last, since = now, time.Now()
		}
		return time.Since(since) >= 2*time.Second
	})
}
