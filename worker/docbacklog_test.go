package worker

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// slowUpdates is a store on which writing instance documents takes perDoc each, as keyed
// updates do on FerretDB under load; a write the caller gives up on writes nothing.
type slowUpdates struct {
	history.Store
	perDoc time.Duration
}

func (s *slowUpdates) UpdateInstances(ctx context.Context, docs []*history.Instance) []error {
	t := time.NewTimer(s.perDoc * time.Duration(len(docs)))
	defer t.Stop()
	select {
	case <-t.C:
		return s.Store.UpdateInstances(ctx, docs)
	case <-ctx.Done():
		errs := make([]error, len(docs))
		for i := range errs {
			errs[i] = ctx.Err()
		}
		return errs
	}
}

// A backlog of documents that takes longer to write than one OpTimeout is written a part at
// a time, each part within its own: when the whole backlog shared one, every flush timed
// out and began again from the start, and the documents never caught up (10,000 hellos
// submitted at once on FerretDB: thousands owed, each flush timing out after 30 s).
func TestABacklogOfDocumentsIsWrittenAPartAtATime(t *testing.T) {
	f := newFleet(t, helloTwice(t, new(int)), nil, nil)
	ctx := context.Background()
	const n = 350
	var docs []*history.Instance
	for i := range n {
		docs = append(docs, &history.Instance{InstanceID: fmt.Sprintf("i%03d", i), Name: "Two", ExecutionID: "e1",
			Status: history.StatusPending, CreatedAt: f.now, LastUpdatedAt: f.now, Executions: 1})
	}
	for _, err := range f.store.CreateInstances(ctx, docs) {
		must(t, err)
	}
	// 2 ms a document: a part of 100 takes 200 ms, the whole backlog 700 ms.
	store := &slowUpdates{Store: f.store, perDoc: 2 * time.Millisecond}
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w", Now: f.clock, OpTimeout: 400 * time.Millisecond,
		DocLag: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, store, memConn{f.broker.Connect("w")}, f.reg)
	must(t, err)
	for _, d := range docs {
		done := *d
		done.Status, done.LastEpisode, done.Output = history.StatusCompleted, 3, []byte(`"hi"`)
		w.docs.owe(done, f.now, false)
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	go w.docLoop(lctx)
	completed := func() int {
		n := 0
		for _, d := range docs {
			if inst, err := f.store.GetInstance(ctx, d.InstanceID); err == nil && inst.Status == history.StatusCompleted {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for completed() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d documents written after 20 s (%d owed)", completed(), n, w.docs.len())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// refusesOne is a store that keeps failing the write of one instance's document, as a store
// can for a while (a version it reads back older than what was written, again and again).
type refusesOne struct {
	history.Store
	id string
}

func (s *refusesOne) UpdateInstances(ctx context.Context, docs []*history.Instance) []error {
	var rest []*history.Instance
	var at []int
	errs := make([]error, len(docs))
	for i, d := range docs {
		if d.InstanceID == s.id {
			errs[i] = fmt.Errorf("update instance %q: refused for now", d.InstanceID)
			continue
		}
		rest, at = append(rest, d), append(at, i)
	}
	for j, err := range s.Store.UpdateInstances(ctx, rest) {
		errs[at[j]] = err
	}
	return errs
}

// A document the store keeps failing does not hold back those after it: only a part that
// fails whole (the store is down) stops a flush.
func TestADocumentThatKeepsFailingHoldsBackNoOther(t *testing.T) {
	f := newFleet(t, helloTwice(t, new(int)), nil, nil)
	ctx := context.Background()
	var docs []*history.Instance
	for i := range 250 {
		docs = append(docs, &history.Instance{InstanceID: fmt.Sprintf("i%03d", i), Name: "Two", ExecutionID: "e1",
			Status: history.StatusPending, CreatedAt: f.now, LastUpdatedAt: f.now, Executions: 1})
	}
	for _, err := range f.store.CreateInstances(ctx, docs) {
		must(t, err)
	}
	store := &refusesOne{Store: f.store, id: "i000"} // first in the order documents are written
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w", Now: f.clock, Logger: slog.New(slog.DiscardHandler)},
		store, memConn{f.broker.Connect("w")}, f.reg)
	must(t, err)
	for _, d := range docs {
		done := *d
		done.Status, done.LastEpisode = history.StatusCompleted, 3
		w.docs.owe(done, f.now, false)
	}
	if trouble := w.flushDocs(ctx, 0); !trouble {
		t.Error("a flush with a document refused reports no trouble")
	}
	for _, d := range docs[1:] {
		inst, err := f.store.GetInstance(ctx, d.InstanceID)
		must(t, err)
		if inst.Status != history.StatusCompleted {
			t.Fatalf("%s is %s after the flush, want Completed: the refused i000 held it back", d.InstanceID, inst.Status)
		}
	}
	if w.docs.len() != 1 {
		t.Fatalf("%d documents owed after the flush, want i000's alone", w.docs.len())
	}
}
