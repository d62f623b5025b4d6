package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// Under load the first start of a group waits for the others in the dispatcher, and the
// group goes as one as soon as all have joined (well before its wait is up).
func TestStartGroupGathersTheStartsInFlight(t *testing.T) {
	g := newStartGroups()
	g.wait = time.Minute // the group must leave because all joined, not because time ran out
	g.lastSize, g.lastAt = 8, time.Now()
	var mu sync.Mutex
	var groups [][]*startJob
	flush := func(group []*startJob) {
		mu.Lock()
		groups = append(groups, group)
		mu.Unlock()
	}
	arrivals := make([]*arrival, 8)
	for i := range arrivals {
		arrivals[i] = g.arrive()
	}
	var wg sync.WaitGroup
	for i, a := range arrivals {
		wg.Go(func() { g.join(a, &startJob{queue: fmt.Sprint(i)}, flush) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the group did not leave once every start had joined")
	}
	if len(groups) != 1 || len(groups[0]) != 8 {
		t.Fatalf("groups of %v, want one of 8", sizes(groups))
	}
}

// A lone start (no group of several just before) goes at once, in its own goroutine.
func TestStartGroupLoneStartDoesNotWait(t *testing.T) {
	g := newStartGroups()
	g.wait = time.Minute
	var groups [][]*startJob
	done := make(chan struct{})
	go func() {
		g.join(g.arrive(), &startJob{}, func(group []*startJob) { groups = append(groups, group) })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a lone start waited for a group")
	}
	if len(groups) != 1 || len(groups[0]) != 1 {
		t.Fatalf("groups of %v, want one of 1", sizes(groups))
	}
	// A start that left (refused before joining) is not waited for.
	g.lastSize, g.lastAt = 2, time.Now()
	gone := g.arrive()
	gone.leave()
	gone.leave() // once only
	a := g.arrive()
	finished := make(chan struct{})
	go func() {
		g.join(a, &startJob{}, func(group []*startJob) { groups = append(groups, group) })
		close(finished)
	}()
	select {
	case <-finished:
		t.Fatal("the group left with 1 of the 2 starts it expects, before its wait was up")
	case <-time.After(50 * time.Millisecond):
	}
	b := g.arrive()
	go g.join(b, &startJob{}, func([]*startJob) { t.Error("a second leader while one gathers") })
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("the group did not leave once the second start joined")
	}
	if len(groups) != 2 || len(groups[1]) != 2 || g.arriving != 0 {
		t.Fatalf("groups of %v, %d arriving", sizes(groups), g.arriving)
	}
}

func sizes(groups [][]*startJob) []int {
	var out []int
	for _, g := range groups {
		out = append(out, len(g))
	}
	return out
}

// One call's PublishError is split into each message's own outcome: confirmed, unroutable
// (not queued), unconfirmed (may be queued).
func TestPublishJobsGivesEachMessageItsOutcome(t *testing.T) {
	r := newRig(t, Config{})
	jobs := []*startJob{{msg: queues.Message{ID: "a"}}, {msg: queues.Message{ID: "b"}}, {msg: queues.Message{ID: "c"}}}
	r.broker.script = []error{&queues.PublishError{Queue: "q", Unconfirmed: []int{1}, Unroutable: []int{2}, IDs: []string{"a", "b", "c"}}}
	r.d.publishJobs(t.Context(), "q", jobs)
	if jobs[0].published != nil || !errors.Is(jobs[1].published, queues.ErrUnconfirmed) || refusedByBroker(jobs[1].published) ||
		!refusedByBroker(jobs[2].published) {
		t.Fatalf("outcomes %v, %v, %v", jobs[0].published, jobs[1].published, jobs[2].published)
	}
	r.broker.script = []error{errDown}
	r.d.publishJobs(t.Context(), "q", jobs)
	for _, j := range jobs {
		if !errors.Is(j.published, queues.ErrUnconfirmed) {
			t.Fatalf("after an error that names no message: %v", j.published)
		}
	}
}

// createCounter counts the CreateInstances calls and the instances they carried.
type createCounter struct {
	*memStore
	mu      sync.Mutex
	creates []int
}

func (s *createCounter) CreateInstances(ctx context.Context, insts []*history.Instance) []error {
	s.mu.Lock()
	s.creates = append(s.creates, len(insts))
	s.mu.Unlock()
	return s.memStore.CreateInstances(ctx, insts)
}

// Concurrent starts through the API are each created once and sent once, to their
// partition, saying that their document is recorded; a start of an id that exists goes on
// alone (409 while it is live).
func TestConcurrentStartsThroughTheAPI(t *testing.T) {
	r := newRig(t, Config{})
	counting := &createCounter{memStore: r.store}
	r.d.store = counting
	seed(r.store, "live", history.StatusRunning)
	const n = 16
	codes := make([]int, n+1)
	var wg sync.WaitGroup
	for i := range n + 1 {
		id := fmt.Sprintf("c-%d", i)
		if i == n {
			id = "live"
		}
		wg.Go(func() {
			codes[i] = r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"`+id+`"}`).code
		})
	}
	wg.Wait()
	for i, c := range codes {
		if want := map[bool]int{true: http.StatusConflict, false: http.StatusAccepted}[i == n]; c != want {
			t.Fatalf("start %d: %d, want %d", i, c, want)
		}
	}
	total := 0
	for _, k := range counting.creates {
		total += k
	}
	if total != n+1 {
		t.Fatalf("CreateInstances carried %d instances in %v, want %d", total, counting.creates, n+1)
	}
	if got := r.broker.total(); got != n {
		t.Fatalf("%d messages sent, want %d", got, n)
	}
	for q, msgs := range r.broker.sent {
		for _, m := range msgs {
			var cm history.ControlMessage
			if err := json.Unmarshal(m.Body, &cm); err != nil || cm.Recorded != 1 || r.d.controlQueue(cm.InstanceID) != q {
				t.Fatalf("message %s on %s: %+v %v", m.Body, q, cm, err)
			}
		}
	}
}
