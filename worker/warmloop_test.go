package worker

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
)

// listWaits is a store whose instance lists wait until released, as a list on FerretDB
// does for seconds with thousands of Pending documents to sort.
type listWaits struct {
	history.Store
	entered chan struct{}
	release chan struct{}
}

func (s *listWaits) ListInstances(ctx context.Context, f history.ListFilter) ([]history.Instance, string, error) {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	return s.Store.ListInstances(ctx, f)
}

// The episode loop goes on while a warm-up waits on the store: with 10,000 hellos in the
// store a warm-up's lists took seconds each on FerretDB, and on the episode loop, where it
// ran, every batch waited for them (hello-10k at 47/s against 130/s fresh).
func TestTheEpisodeLoopGoesOnWhileAWarmUpWaitsOnTheStore(t *testing.T) {
	store := memstore.New(memstore.Options{})
	broker := membroker.New(membroker.Options{Hub: "h", Partitions: 1})
	slow := &listWaits{Store: store, entered: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(slow.release)
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w", HeartbeatInterval: 50 * time.Millisecond,
		DeadAfter: time.Second, TimerGrace: 300 * time.Millisecond, DocLag: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}, slow, memConn{broker.Connect("w")}, helloTwice(t, new(int)))
	must(t, err)
	runOnMem(t, w, broker)
	select {
	case <-slow.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no warm-up began within 10 s of the worker taking its partition")
	}

	bg := context.Background()
	publishStart(t, store, broker, "x", "Two", `"bob"`)

	deadline := time.Now().Add(20 * time.Second)
	for {
		inst, err := store.GetInstance(bg, "x")
		must(t, err)
		if inst.Status == history.StatusCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("x is %s 20 s after its start while a warm-up waits on the store; want Completed", inst.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
