package integration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/scrape"
	"github.com/warrenhq/warren/internal/testenv"
)

// With WARREN_RETENTION set, a fleet purges a backlog of old ended instances a batch at a
// time while it runs: hello sequences started during the purge complete and are kept, and
// their latency is set beside that of hello sequences run after the purge (FIGURE lines).
func TestRetentionPurgesWhileTheFleetRuns(t *testing.T) {
	const backlog, hellos, rounds = 100, 10, 2
	f := fleettest.Start(t, fleettest.Options{Workers: 2, Endpoints: true,
		WorkerEnv: []string{"WARREN_RETENTION=1h", "WARREN_RETENTION_INTERVAL=1s"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := client.New(f.URL)
	runHellos(ctx, t, c, "warmup", hellos) // a fresh fleet's first sequences are slower: not measured
	store, err := mongostore.Open(ctx, mongostore.Options{URI: testenv.MongoURI(), Hub: f.Hub})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	old := time.Now().Add(-2 * time.Hour).UTC()
	for start := 0; start < backlog; start += 100 {
		batch := make([]*history.Instance, 100)
		for i := range batch {
			batch[i] = &history.Instance{InstanceID: fmt.Sprintf("old-%04d", start+i), Name: "HelloSequence",
				ExecutionID: "e1", Executions: 1, Status: history.StatusCompleted, CreatedAt: old, LastUpdatedAt: old}
		}
		for i, err := range store.CreateInstances(ctx, batch) {
			if err != nil {
				t.Fatalf("seeding %s: %v", batch[i].InstanceID, err)
			}
		}
	}
	purged := func() float64 {
		total := 0.0
		for _, w := range f.Workers() {
			if s, err := scrape.Fetch(ctx, w.EndpointsURL+"/metrics", ""); err == nil {
				total += s.Value("warren_worker_instances_purged_total")
			}
		}
		return total
	}
	began := time.Now()
	var during, after []time.Duration
	for r := range rounds {
		during = append(during, runHellos(ctx, t, c, fmt.Sprintf("during%d", r), hellos)...)
	}
	purgedDuring := purged()
	fleettest.WaitUntil(t, 4*time.Minute, "the backlog purged", func() bool { return purged() >= backlog })
	purgeTook := time.Since(began)
	for r := range rounds {
		after = append(after, runHellos(ctx, t, c, fmt.Sprintf("after%d", r), hellos)...)
	}
	slices.Sort(during)
	slices.Sort(after)

	if got := purged(); got != backlog {
		t.Errorf("purged %v instances, want the %d old ones", got, backlog)
	}
	if page, _, err := store.ListInstances(ctx, history.ListFilter{CreatedTo: old.Add(time.Minute), PageSize: 10}); err != nil || len(page) != 0 {
		t.Errorf("old instances left after the purge: %d (%v)", len(page), err)
	}
	for _, prefix := range []string{"during0", "after0"} {
		if _, err := store.GetInstance(ctx, prefix+"-0"); err != nil {
			t.Errorf("%s-0 after the purge: %v; want it kept", prefix, err)
		}
	}
	t.Logf("FIGURE: retention: %d old instances purged in %.1f s (10 a batch, resting 9x as long as each took), %.0f of them while %d rounds of %d hello sequences ran",
		backlog, purgeTook.Seconds(), purgedDuring, rounds, hellos)
	t.Logf("FIGURE: retention: hello sequence latency during the purge p50 %s max %s; after it p50 %s max %s",
		during[len(during)/2].Round(time.Millisecond), during[len(during)-1].Round(time.Millisecond),
		after[len(after)/2].Round(time.Millisecond), after[len(after)-1].Round(time.Millisecond))
}

// runHellos starts n hello sequences at once and returns how long each took from its start
// to its end, sorted.
func runHellos(ctx context.Context, t *testing.T, c *client.Client, prefix string, n int) []time.Duration {
	t.Helper()
	took := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("%s-%d", prefix, i)
			t0 := time.Now()
			if _, err := c.Start(ctx, "HelloSequence", "retention", client.WithInstanceID(id)); err != nil {
				errs[i] = err
				return
			}
			st, err := c.Wait(ctx, id, time.Minute)
			if err == nil && st.Status != history.StatusCompleted {
				err = fmt.Errorf("%s ended %s", id, st.Status)
			}
			errs[i], took[i] = err, time.Since(t0)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(took)
	return took
}
