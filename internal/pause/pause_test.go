package pause

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestForWaitsUnlessTheContextEnds(t *testing.T) {
	if err := For(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("a wait that ran out: %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	began := time.Now()
	if err := For(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("a wait on an ended context: %v, want context.Canceled", err)
	}
	if time.Since(began) > time.Minute {
		t.Fatal("a wait on an ended context waited")
	}
}
