package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/testenv"
)

// Two processes (two Stores, each with its own connections) write versions of the same
// documents at once, as the old and the new owner of a partition would. One Store's writes
// of a document take turns, so only here do FerretDB's non-atomic conditional updates race:
// the read-back repairs almost every lost race. The bound allows for the rare older write
// that lands after the newer writer's pause (see UpdateInstance); on MongoDB none does.
func TestUpdateInstanceAcrossStores(t *testing.T) {
	first := openTestStore(t)
	ctx := testContext(t)
	const rounds, allowed = 50, 2
	stores := make([]*Store, 2)
	for i := range stores {
		s, err := Open(ctx, Options{URI: testenv.MongoURI(), Hub: first.db.Name()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		stores[i] = s
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	older := 0
	for round := range rounds {
		id := fmt.Sprintf("across-%d", round)
		created := &history.Instance{InstanceID: id, Name: "n", Status: history.StatusPending, CreatedAt: time.Now()}
		if err := first.CreateInstance(ctx, created); err != nil {
			t.Fatal(err)
		}
		writes := make([]*history.Instance, len(stores))
		var newest *history.Instance
		for i := range writes {
			w := *created
			w.Executions, w.LastEpisode = rng.Int64N(3), rng.Int64N(4)
			w.CustomStatus = json.RawMessage(fmt.Sprint(i))
			writes[i] = &w
			if newest == nil || w.Newer(newest) {
				newest = &w
			}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := s.UpdateInstance(ctx, writes[i]); err != nil && !errors.Is(err, history.ErrStaleInstance) {
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		got, err := first.GetInstance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if newest.Newer(got) {
			older++
		}
	}
	t.Logf("seed %d: %d of %d rounds ended with an older document", seed, older, rounds)
	if older > allowed {
		t.Fatalf("%d of %d rounds ended with an older document than the newest write (at most %d allowed)", older, rounds, allowed)
	}
}
