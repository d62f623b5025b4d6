package mongo

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

func TestHeartbeatsAndLiveWorkers(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	w1 := history.WorkerInfo{WorkerID: "w1", Host: "h1", Orchestrators: []string{"A", "B"}, Activities: []string{"X"},
		HeartbeatAt: now, StartedAt: now.Add(-time.Minute)}
	w2 := history.WorkerInfo{WorkerID: "w2", Host: "h2", Orchestrators: []string{}, Activities: []string{"Y"},
		HeartbeatAt: now.Add(-time.Minute), StartedAt: now.Add(-time.Hour)}
	for _, w := range []history.WorkerInfo{w1, w2} {
		if err := s.Heartbeat(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	live := func(maxAge time.Duration) []history.WorkerInfo {
		t.Helper()
		ws, err := s.LiveWorkers(ctx, maxAge)
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	if got := live(10 * time.Second); !reflect.DeepEqual(got, []history.WorkerInfo{w1}) {
		t.Fatalf("live within 10s = %+v, want only w1 %+v", got, w1)
	}
	if got := live(time.Hour); len(got) != 2 || got[0].WorkerID != "w1" || got[1].WorkerID != "w2" {
		t.Fatalf("live within 1h = %+v, want w1 and w2", got)
	}

	// A new heartbeat replaces the record (an upsert, not a second document).
	w2.HeartbeatAt = time.Now().UTC().Truncate(time.Millisecond)
	w2.Orchestrators = []string{"C"}
	if err := s.Heartbeat(ctx, w2); err != nil {
		t.Fatal(err)
	}
	if got := live(10 * time.Second); len(got) != 2 || !reflect.DeepEqual(got[1], w2) {
		t.Fatalf("after w2's heartbeat: %+v", got)
	}
	if got := live(time.Hour); len(got) != 2 {
		t.Fatalf("heartbeat added a record: %+v", got)
	}

	// A heartbeat without a time is stamped now.
	if err := s.Heartbeat(ctx, history.WorkerInfo{WorkerID: "w3"}); err != nil {
		t.Fatal(err)
	}
	if got := live(10 * time.Second); len(got) != 3 || got[2].WorkerID != "w3" {
		t.Fatalf("w3 without a heartbeat time is not live: %+v", got)
	}

	if err := s.RemoveWorker(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveWorker(ctx, "never-was"); err != nil {
		t.Errorf("removing an unknown worker: %v", err)
	}
	if got := live(time.Hour); len(got) != 2 || got[0].WorkerID != "w2" || got[1].WorkerID != "w3" {
		t.Fatalf("after removing w1: %+v", got)
	}
}

// Concurrent heartbeats of one new worker leave one record and no error.
func TestConcurrentHeartbeatsOfANewWorker(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	for round := range 20 {
		id := fmt.Sprintf("w-%d", round)
		errs := make([]error, 4)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.Heartbeat(ctx, history.WorkerInfo{WorkerID: id, Host: fmt.Sprint(i)})
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: heartbeat %d: %v", round, i, err)
			}
		}
	}
	ws, err := s.LiveWorkers(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 20 {
		t.Fatalf("%d worker records, want 20", len(ws))
	}
}
