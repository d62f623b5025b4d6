package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// liveWorkers calls LiveWorkers and checks that every heartbeat time is the store's stamp:
// close to now, whatever the worker sent.
func liveWorkers(t *testing.T, s history.Store, maxAge time.Duration) []history.WorkerInfo {
	t.Helper()
	ws, err := s.LiveWorkers(testContext(t), maxAge)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if d := time.Since(w.HeartbeatAt); d < -time.Minute || d > time.Minute {
			t.Errorf("worker %s: heartbeat at %v, %s from now: not the store's time", w.WorkerID, w.HeartbeatAt, d)
		}
	}
	return ws
}

// ids lists the workers' ids, which LiveWorkers orders.
func ids(ws []history.WorkerInfo) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.WorkerID)
	}
	return out
}

func testHeartbeatsAndLiveWorkers(t *testing.T, s history.Store) {
	ctx := testContext(t)
	started := time.Now().UTC().Truncate(time.Millisecond)
	w1 := history.WorkerInfo{WorkerID: "w1", Host: "h1", Orchestrators: []string{"A", "B"}, Activities: []string{"X"},
		StartedAt: started.Add(-time.Minute), ActivityConcurrency: 8, SchemaVersion: history.SchemaVersion + 1}
	w2 := history.WorkerInfo{WorkerID: "w2", Host: "h2", Orchestrators: []string{}, Activities: []string{"Y"},
		StartedAt: started.Add(-time.Hour)}
	if err := s.Heartbeat(ctx, w2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := s.Heartbeat(ctx, w1); err != nil {
		t.Fatal(err)
	}
	got := liveWorkers(t, s, time.Second)
	if len(got) != 1 {
		t.Fatalf("live within 1s = %v, want only w1", ids(got))
	}
	got[0].HeartbeatAt = time.Time{}
	if !reflect.DeepEqual(got[0], w1) {
		t.Fatalf("live within 1s = %+v, want %+v", got[0], w1)
	}
	if got := ids(liveWorkers(t, s, time.Hour)); !reflect.DeepEqual(got, []string{"w1", "w2"}) {
		t.Fatalf("live within 1h = %v, want w1 and w2", got)
	}

	// A new heartbeat replaces the record (an upsert, not a second document).
	w2.Orchestrators = []string{"C"}
	if err := s.Heartbeat(ctx, w2); err != nil {
		t.Fatal(err)
	}
	got = liveWorkers(t, s, time.Second)
	if len(got) != 2 || !reflect.DeepEqual(got[1].Orchestrators, []string{"C"}) {
		t.Fatalf("after w2's heartbeat: %+v", got)
	}
	if got := liveWorkers(t, s, time.Hour); len(got) != 2 {
		t.Fatalf("heartbeat added a record: %+v", got)
	}

	if err := s.Heartbeat(ctx, history.WorkerInfo{WorkerID: "w3"}); err != nil {
		t.Fatal(err)
	}
	if got := ids(liveWorkers(t, s, time.Second)); !reflect.DeepEqual(got, []string{"w1", "w2", "w3"}) {
		t.Fatalf("live after w3's heartbeat: %v", got)
	}

	if err := s.RemoveWorker(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveWorker(ctx, "never-was"); err != nil {
		t.Errorf("removing an unknown worker: %v", err)
	}
	if got := ids(liveWorkers(t, s, time.Hour)); !reflect.DeepEqual(got, []string{"w2", "w3"}) {
		t.Fatalf("after removing w1: %v", got)
	}
}

// The store stamps heartbeats with its own clock and judges liveness by it: a worker whose
// clock runs an hour ahead does not stay live for an hour after it stops, and one whose clock
// runs an hour behind is not dead on arrival.
func testLivenessIgnoresWorkerClocks(t *testing.T, s history.Store) {
	ctx := testContext(t)
	for id, skew := range map[string]time.Duration{"ahead": time.Hour, "behind": -time.Hour} {
		if err := s.Heartbeat(ctx, history.WorkerInfo{WorkerID: id, HeartbeatAt: time.Now().Add(skew)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(liveWorkers(t, s, 10*time.Second)); !reflect.DeepEqual(got, []string{"ahead", "behind"}) {
		t.Fatalf("live right after their heartbeats: %v, want ahead and behind", got)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := ids(liveWorkers(t, s, time.Second)); len(got) != 0 {
		t.Fatalf("live within 1s, 1.5s after the last heartbeats: %v, want none", got)
	}
}

// Concurrent heartbeats of one new worker leave one record and no error.
func testConcurrentHeartbeats(t *testing.T, s history.Store) {
	ctx := testContext(t)
	for round := range 20 {
		id := fmt.Sprintf("w-%02d", round)
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
	if ws := liveWorkers(t, s, time.Minute); len(ws) != 20 {
		t.Fatalf("%d worker records, want 20", len(ws))
	}
}
