package integration

import (
	"context"
	"testing"

	"github.com/warrenhq/warren/history"
	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/testenv"
)

// storedHistories reads the history of the current execution of each of ids straight from
// the hub's store: one query for the documents and one per 500 histories. Read one by one
// through the dispatcher, the checks of a long run took minutes on FerretDB's SQLite
// backend, where each keyed read is a scan of the collection. The history, not the
// document (a read model that may lag), says how each ended.
func storedHistories(ctx context.Context, t testing.TB, hub string, ids []string) map[string][]history.Event {
	t.Helper()
	s, err := mongostore.Open(ctx, mongostore.Options{URI: testenv.MongoURI(), Hub: hub})
	if err != nil {
		t.Fatalf("opening the store of hub %s: %v", hub, err)
	}
	defer s.Close(context.Background())
	insts, err := s.GetInstances(ctx, ids)
	if err != nil {
		t.Fatalf("reading %d instances: %v", len(ids), err)
	}
	refs := make([]history.ExecutionRef, 0, len(ids))
	for _, id := range ids {
		inst := insts[id]
		if inst == nil {
			t.Fatalf("instance %s is not in the store", id)
		}
		refs = append(refs, history.ExecutionRef{InstanceID: id, ExecutionID: inst.ExecutionID})
	}
	eps, err := s.LoadHistories(ctx, refs)
	if err != nil {
		t.Fatalf("reading %d histories: %v", len(refs), err)
	}
	out := make(map[string][]history.Event, len(ids))
	for _, r := range refs {
		var evs []history.Event
		for _, ep := range eps[r] {
			evs = append(evs, ep.Events...)
		}
		out[r.InstanceID] = evs
	}
	return out
}

// endedAs is how a history says its execution ended: the status of its last terminal
// event, "" while it runs.
func endedAs(evs []history.Event) history.Status {
	for i := len(evs) - 1; i >= 0; i-- {
		switch evs[i].Kind {
		case history.ExecutionCompleted:
			return history.StatusCompleted
		case history.ExecutionFailed:
			return history.StatusFailed
		case history.ExecutionTerminated:
			return history.StatusTerminated
		}
	}
	return ""
}
