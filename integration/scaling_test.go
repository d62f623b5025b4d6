package integration

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
)

// A worker killed with SIGKILL mid-run loses nothing, and a worker that joins mid-run takes
// partitions within seconds.
func TestKillOneOfThreeWorkersWhileHelloSequencesRun(t *testing.T) {
	f := fleettest.Start(t, fleettest.Options{Workers: 3})
	const n = 200
	prefix := testenv.UniqueName("hello")
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f.MustClient("start", "HelloSequence", "--id", ids[i], "--input", fmt.Sprintf("%q", ids[i]))
		}()
		if i == n/4 {
			f.Workers()[0].Kill()
		}
	}
	wg.Wait()

	fourth := f.StartWorker()
	fleettest.WaitUntil(t, 20*time.Second, "the new worker owns partitions", func() bool {
		r := f.Client("workers", "--json")
		if r.Code != 0 {
			return false
		}
		var ws []struct {
			WorkerID   string `json:"workerId"`
			Partitions []int  `json:"partitions"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &ws); err != nil {
			return false
		}
		// the killed worker has gone, the new one is in: 3 live, each owning some.
		if len(ws) != 3 {
			return false
		}
		for _, w := range ws {
			if len(w.Partitions) == 0 {
				return false
			}
		}
		return true
	})

	for _, id := range ids {
		st, code := waitDone(t, f, id, "3m")
		if code != 0 || st.Status != history.StatusCompleted {
			t.Fatalf("%s ended %s (exit %d): %v", id, st.Status, code, st.Failure)
		}
		evs := events(t, f, id)
		seen := map[int64]int{}
		for _, e := range evs {
			if e.Kind == history.TaskCompleted {
				seen[e.TaskID]++
			}
		}
		if len(seen) != 5 {
			t.Fatalf("%s: %d distinct activity results, want 5", id, len(seen))
		}
		for task, c := range seen {
			if c != 1 {
				t.Fatalf("%s: result of task %d recorded %d times", id, task, c)
			}
		}
	}

	// SIGTERM drains: the worker exits 0 and leaves the live set at once.
	if err := fourth.Stop(30 * time.Second); err != nil {
		t.Fatalf("worker did not drain cleanly on SIGTERM: %v", err)
	}
	fleettest.WaitUntil(t, 3*time.Second, "the drained worker gone from the live set", func() bool {
		return f.LiveWorkers() == 2
	})
}
