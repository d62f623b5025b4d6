package integration

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
)

// A worker killed with SIGKILL mid-run loses nothing, and once a worker joins mid-run the
// partitions are shared out again within seconds.
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
	fleettest.WaitUntil(t, 20*time.Second, "the killed worker gone, the new one in, every partition owned once", func() bool {
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
		// 3 live. Rendezvous hashing may leave one of them without a partition (8 over 3:
		// about 4% for a given worker), so what must hold is that every partition has
		// exactly one owner.
		if len(ws) != 3 {
			return false
		}
		owned := map[int]int{}
		for _, w := range ws {
			for _, p := range w.Partitions {
				owned[p]++
			}
		}
		for p := 0; p < f.Partitions; p++ {
			if owned[p] != 1 {
				return false
			}
		}
		return true
	})

	// One list call per poll rather than a wait per instance.
	fleettest.WaitUntil(t, 3*time.Minute, "all 200 ended", func() bool {
		ended := 0
		for _, st := range list(t, f, "--name", "HelloSequence") {
			if st.Status.Terminal() {
				ended++
			}
		}
		return ended == n
	})
	for _, st := range list(t, f, "--name", "HelloSequence") {
		if st.Status != history.StatusCompleted {
			t.Fatalf("%s ended %s: %v", st.InstanceID, st.Status, st.Failure)
		}
	}
	// Each activity result is in its history exactly once; histories are read 8 at a time.
	problems := make(chan string, 8*n) // room for every problem of every instance
	eachOf(ids, func(id string) {
		r := f.ClientRead("history", id, "--json")
		var h api.StatusWithHistory
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &h) != nil {
			problems <- fmt.Sprintf("%s: client history exit %d: %s", id, r.Code, r.Stderr)
			return
		}
		wrong, _ := helloResults(id, h.History)
		for _, p := range wrong {
			problems <- p
		}
	})
	close(problems)
	for p := range problems {
		t.Error(p)
	}

	// SIGTERM drains: the worker exits 0 and leaves the live set at once.
	if err := fourth.Stop(30 * time.Second); err != nil {
		t.Fatalf("worker did not drain cleanly on SIGTERM: %v", err)
	}
	fleettest.WaitUntil(t, 3*time.Second, "the drained worker gone from the live set", func() bool {
		return f.LiveWorkers() == 2
	})
}
