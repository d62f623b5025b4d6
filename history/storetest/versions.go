package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// version builds an instance document at one version (see [history.Instance.Newer]); the
// custom status says which write it is.
func version(id string, executions, lastEpisode int64, status history.Status, writer string) *history.Instance {
	inst := instance(id, status, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	inst.Executions = executions
	inst.LastEpisode = lastEpisode
	inst.CustomStatus = json.RawMessage(`"` + writer + `"`)
	return inst
}

// UpdateInstance never replaces a newer document: a worker that lost its partition cannot
// turn Completed back into Running. An equal version may be written again.
func testUpdateInstanceIsMonotonic(t *testing.T, s history.Store) {
	const (
		pending   = history.StatusPending
		running   = history.StatusRunning
		suspended = history.StatusSuspended
		completed = history.StatusCompleted
		continued = history.StatusContinuedAsNew
	)
	type v struct {
		executions, lastEpisode int64
		status                  history.Status
	}
	cases := []struct {
		name          string
		stored, write v
		stale         bool
	}{
		{"later episode", v{1, 3, running}, v{1, 4, running}, false},
		{"earlier episode", v{1, 4, running}, v{1, 3, completed}, true},
		{"later execution", v{1, 9, continued}, v{2, 0, pending}, false},
		{"earlier execution", v{2, 0, pending}, v{1, 9, continued}, true},
		{"ended at the same episode", v{1, 5, running}, v{1, 5, completed}, false},
		{"running again at the same episode", v{1, 5, completed}, v{1, 5, running}, true},
		{"pending again at the same episode", v{1, 5, running}, v{1, 5, pending}, true},
		{"suspended at the same episode", v{1, 5, running}, v{1, 5, suspended}, false},
		{"resumed at the same episode", v{1, 5, suspended}, v{1, 5, running}, false},
		{"the same version again", v{1, 5, running}, v{1, 5, running}, false},
		{"no executions counts as 0", v{1, 0, pending}, v{0, 7, completed}, true},
		{"first execution after none", v{0, 7, completed}, v{1, 0, pending}, false},
		{"both without executions", v{0, 2, running}, v{0, 3, running}, false},
	}
	ctx := testContext(t)
	for i, tc := range cases {
		id := fmt.Sprintf("v-%d", i)
		stored := version(id, tc.stored.executions, tc.stored.lastEpisode, tc.stored.status, "stored")
		if err := s.CreateInstance(ctx, stored); err != nil {
			t.Fatal(err)
		}
		err := s.UpdateInstance(ctx, version(id, tc.write.executions, tc.write.lastEpisode, tc.write.status, "update"))
		switch {
		case tc.stale && !errors.Is(err, history.ErrStaleInstance):
			t.Errorf("%s: update = %v, want ErrStaleInstance", tc.name, err)
		case !tc.stale && err != nil:
			t.Errorf("%s: update = %v, want success", tc.name, err)
		}
		got, err := s.GetInstance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := `"update"`
		if tc.stale {
			want = `"stored"`
		}
		if string(got.CustomStatus) != want {
			t.Errorf("%s: the store holds the %s document, want the %s one", tc.name, got.CustomStatus, want)
		}
	}
}

// Writers of random versions at once (the old and the new owner of a partition, and worse):
// whatever the store's conditional updates do under contention, the newest version is what
// stays.
func testConcurrentUpdatesKeepTheNewest(t *testing.T, s history.Store) {
	ctx := testContext(t)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	statuses := []history.Status{history.StatusPending, history.StatusRunning, history.StatusSuspended,
		history.StatusCompleted, history.StatusFailed, history.StatusContinuedAsNew}
	for round := range 5 {
		id := fmt.Sprintf("newest-%d", round)
		if err := s.CreateInstance(ctx, version(id, 0, 0, history.StatusPending, "created")); err != nil {
			t.Fatal(err)
		}
		writes := make([]*history.Instance, 20)
		newest := writes[0]
		for i := range writes {
			writes[i] = version(id, rng.Int64N(3), rng.Int64N(4), statuses[rng.IntN(len(statuses))], fmt.Sprint(i))
			if newest == nil || writes[i].Newer(newest) {
				newest = writes[i]
			}
		}
		errs := make([]error, len(writes))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, w := range writes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.UpdateInstance(ctx, w)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, history.ErrStaleInstance) {
				t.Fatalf("round %d: write %d: %v", round, i, err)
			}
		}
		got, err := s.GetInstance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if newest.Newer(got) {
			t.Fatalf("round %d: the store holds write %s (executions %d, episode %d, %s), older than write %s (%d, %d, %s)",
				round, got.CustomStatus, got.Executions, got.LastEpisode, got.Status,
				newest.CustomStatus, newest.Executions, newest.LastEpisode, newest.Status)
		}
	}
}
