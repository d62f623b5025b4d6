package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// racyDocs is a store whose conditional document writes can land late, as on FerretDB: an
// update matches the stored version, then writes, so a version older than the stored one
// that matched before the newer landed is written over it. It keeps the documents of the
// instances it holds itself (the memstore applies its condition atomically); once blind
// is set, the next write of a held document lands whatever is stored. It counts the
// document and history reads.
type racyDocs struct {
	history.Store
	mu    sync.Mutex
	held  map[string]history.Instance
	blind bool
	reads int
}

func (s *racyDocs) hold(t *testing.T, id string) {
	inst, err := s.Store.GetInstance(context.Background(), id)
	must(t, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = map[string]history.Instance{}
	}
	s.held[id] = *inst
}

func (s *racyDocs) landBlind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blind = true
}

func (s *racyDocs) GetInstance(ctx context.Context, id string) (*history.Instance, error) {
	s.mu.Lock()
	inst, ok := s.held[id]
	s.mu.Unlock()
	if !ok {
		return s.Store.GetInstance(ctx, id)
	}
	return &inst, nil
}

func (s *racyDocs) GetInstances(ctx context.Context, ids []string) (map[string]*history.Instance, error) {
	out, err := s.Store.GetInstances(ctx, ids)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	for _, id := range ids {
		if inst, ok := s.held[id]; ok {
			out[id] = &inst
		}
	}
	return out, nil
}

func (s *racyDocs) LoadHistories(ctx context.Context, refs []history.ExecutionRef) (map[history.ExecutionRef][]history.Episode, error) {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.Store.LoadHistories(ctx, refs)
}

func (s *racyDocs) UpdateInstances(ctx context.Context, docs []*history.Instance) []error {
	errs := make([]error, len(docs))
	var rest []*history.Instance
	var at []int
	s.mu.Lock()
	for i, d := range docs {
		stored, ok := s.held[d.InstanceID]
		switch {
		case !ok:
			rest, at = append(rest, d), append(at, i)
		case stored.Newer(d) && !s.blind:
			errs[i] = fmt.Errorf("update instance %q: %w", d.InstanceID, history.ErrStaleInstance)
		default:
			stored.SetReadModel(d.ReadModel())
			s.held[d.InstanceID] = stored
			s.blind = false
		}
	}
	s.mu.Unlock()
	for j, err := range s.Store.UpdateInstances(ctx, rest) {
		errs[at[j]] = err
	}
	return errs
}

// racyFleet is a fleet whose one worker writes through a racyDocs store, and the hello
// instance "x" run by it to the end, its Completed document written.
func racyFleet(t *testing.T) (*fleet, *Steps, *racyDocs, history.Instance) {
	t.Helper()
	f := newFleet(t, helloTwice(t, new(int)), nil, nil)
	store := &racyDocs{Store: f.store}
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w1", Now: f.clock, Logger: slog.New(slog.DiscardHandler)},
		store, memConn{f.broker.Connect("w1")}, f.reg)
	must(t, err)
	s := w.Steps(nil)
	must(t, s.Subscribe(context.Background()))
	s.Heartbeat(context.Background())
	f.start("x", "Two", `"bob"`)
	store.hold(t, "x")
	f.run(s)
	s.FlushDocs(context.Background())
	got, err := store.GetInstance(context.Background(), "x")
	must(t, err)
	done := *got
	if done.Status != history.StatusCompleted || string(done.Output) != `"hi hi bob"` {
		t.Fatalf("x ended %s with %s, want Completed with \"hi hi bob\"", done.Status, done.Output)
	}
	return f, s, store, done
}

// runningAt is done as it was at episode 1: Running, no output.
func runningAt(done history.Instance) history.Instance {
	old := done
	old.Status, old.LastEpisode, old.Output = history.StatusRunning, 1, nil
	return old
}

// An older document that lands over a newer one while the partition changes hands is
// repaired from the history by the worker that wrote it: the worker that released the
// partition (it flushes what it owed before it noticed), and a repair rebuilt from a
// history read before the last episode. Seen in CI: a child read Running for good after
// its new owner had written it Completed.
func TestAnOlderDocumentLandingLastIsRepairedFromHistory(t *testing.T) {
	for _, tc := range []struct {
		name string
		owe  func(s *Steps, doc history.Instance)
	}{
		{"owed by the worker that released the partition", func(s *Steps, doc history.Instance) {
			s.w.releaseAll()
			s.w.docs.owe(doc, s.w.now(), false)
		}},
		{"a repair from an earlier history read", func(s *Steps, doc history.Instance) {
			s.w.docs.oweRepair(doc, s.w.now())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, s, store, done := racyFleet(t)
			ctx := context.Background()
			tc.owe(s, runningAt(done))
			store.landBlind()
			for range 3 {
				s.FlushDocs(ctx)
			}
			inst, err := store.GetInstance(ctx, "x")
			must(t, err)
			if inst.Status != history.StatusCompleted || string(inst.Output) != `"hi hi bob"` || inst.LastEpisode != done.LastEpisode {
				t.Fatalf("after three flushes x reads %s at episode %d with %s; want Completed at %d with \"hi hi bob\"",
					inst.Status, inst.LastEpisode, inst.Output, done.LastEpisode)
			}
			if n := s.DocsOwed(); n != 0 {
				t.Fatalf("%d documents still owed", n)
			}
		})
	}
}

// A worker that holds its partition does not read back what it writes: the check costs the
// hot path nothing.
func TestTheOwnersWritesAreNotReadBack(t *testing.T) {
	f, s, store, _ := racyFleet(t)
	f.now = f.now.Add(time.Minute)
	f.start("y", "Two", `"ann"`)
	if inst := f.settle(s, "y"); inst.Status != history.StatusCompleted {
		t.Fatalf("y ended %s", inst.Status)
	}
	if store.reads != 0 {
		t.Fatalf("%d document or history reads for two instances run and written by their owner, want 0", store.reads)
	}
}
