package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/warrenhq/warren/history"
)

func testEnsureHub(t *testing.T, s history.Store) {
	ctx := testContext(t)
	if err := s.EnsureHub(ctx, 16); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureHub(ctx, 16); err != nil {
		t.Fatalf("same count again: %v", err)
	}
	err := s.EnsureHub(ctx, 32)
	if !errors.Is(err, history.ErrPartitionMismatch) {
		t.Fatalf("other count = %v, want ErrPartitionMismatch", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "16") || !strings.Contains(msg, "32") {
		t.Errorf("mismatch error does not name both counts: %s", msg)
	}
}

// Workers started at once with different counts: the first to record its count decides, and
// every worker with another count is refused.
func testEnsureHubConcurrent(t *testing.T, s history.Store) {
	ctx := testContext(t)
	counts := []int{4, 8, 4, 8, 4, 8, 4, 8}
	errs := make([]error, len(counts))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, p := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.EnsureHub(ctx, p)
		}()
	}
	close(start)
	wg.Wait()
	winner := 0
	for i, err := range errs {
		if err == nil {
			if winner != 0 && winner != counts[i] {
				t.Fatalf("both %d and %d partitions were accepted", winner, counts[i])
			}
			winner = counts[i]
		} else if !errors.Is(err, history.ErrPartitionMismatch) {
			t.Fatalf("EnsureHub(%d) = %v", counts[i], err)
		}
	}
	if winner == 0 {
		t.Fatal("no count was accepted")
	}
	for i, err := range errs {
		if (counts[i] == winner) != (err == nil) {
			t.Errorf("EnsureHub(%d) = %v with %d recorded", counts[i], err, winner)
		}
	}
}
