package memstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// A fault on one batch of PurgeInstances fails the call there: the batches before it stay
// purged and are counted, the rest stay stored.
func TestPurgeInstancesFaultOnTheSecondBatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	batches := 0
	s := New(Options{Faults: func(op Op) Fault {
		if op.Kind != OpPurgeInstances {
			return Fault{}
		}
		if batches++; batches == 2 {
			return Fault{Err: errInjected}
		}
		return Fault{}
	}})
	const total = purgeBatch + 20
	now := time.Now()
	for i := range total {
		inst := &history.Instance{InstanceID: fmt.Sprintf("i-%04d", i), ExecutionID: "e", Status: history.StatusCompleted,
			Executions: 1, CreatedAt: now, LastUpdatedAt: now}
		if err := s.CreateInstance(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeInstances(ctx, history.PurgeFilter{})
	if !errors.Is(err, errInjected) || n != purgeBatch {
		t.Fatalf("PurgeInstances = %d, %v; want %d and the injected error", n, err, purgeBatch)
	}
	page, _, err := s.ListInstances(ctx, history.ListFilter{PageSize: 1000})
	if err != nil || len(page) != total-purgeBatch {
		t.Fatalf("%d left (%v), want %d", len(page), err, total-purgeBatch)
	}
	if n, err := s.PurgeInstances(ctx, history.PurgeFilter{}); err != nil || n != total-purgeBatch {
		t.Fatalf("PurgeInstances again = %d, %v", n, err)
	}
}
