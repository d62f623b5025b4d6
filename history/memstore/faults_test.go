package memstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

var errInjected = errors.New("injected")

// faultOn fails the operations of one kind on one instance, before or after their effect,
// and records every operation it is asked about.
type faultOn struct {
	kind, instanceID string
	after            bool

	mu   sync.Mutex
	seen []Op
}

func (f *faultOn) decide(op Op) Fault {
	f.mu.Lock()
	f.seen = append(f.seen, op)
	f.mu.Unlock()
	if op.Kind == f.kind && op.InstanceID == f.instanceID {
		return Fault{Err: errInjected, AfterEffect: f.after}
	}
	return Fault{}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	inst := &history.Instance{InstanceID: "i", Status: history.StatusRunning, Executions: 1}
	ep := func(id string) *history.Episode { return &history.Episode{InstanceID: id, ExecutionID: "e", Number: 1} }
	cases := []struct {
		name string
		kind string
		// call runs the operation; effect says whether it took effect.
		call   func(s *Store) error
		effect func(s *Store) bool
	}{
		{"create", OpCreateInstance,
			func(s *Store) error { return s.CreateInstance(ctx, inst) },
			func(s *Store) bool { _, err := s.GetInstance(ctx, "i"); return err == nil }},
		{"update", OpUpdateInstance,
			func(s *Store) error {
				if err := s.CreateInstance(ctx, &history.Instance{InstanceID: "i", Status: history.StatusPending}); err != nil {
					t.Fatal(err)
				}
				return s.UpdateInstance(ctx, inst)
			},
			func(s *Store) bool { got, _ := s.GetInstance(ctx, "i"); return got.Status == history.StatusRunning }},
		{"purge", OpPurge,
			func(s *Store) error {
				if err := s.CreateInstance(ctx, &history.Instance{InstanceID: "i", Status: history.StatusCompleted}); err != nil {
					t.Fatal(err)
				}
				return s.Purge(ctx, "i")
			},
			func(s *Store) bool {
				_, err := s.GetInstance(ctx, "i")
				return errors.Is(err, history.ErrInstanceNotFound)
			}},
		{"commit", OpCommitEpisodes,
			func(s *Store) error {
				errs := s.CommitEpisodes(ctx, []*history.Episode{ep("other"), ep("i")})
				if errs[0] != nil {
					t.Fatalf("the other instance's episode: %v", errs[0])
				}
				return errs[1]
			},
			func(s *Store) bool { eps, _ := s.LoadHistory(ctx, "i", "e"); return len(eps) == 1 }},
	}
	for _, tc := range cases {
		for _, after := range []bool{false, true} {
			f := &faultOn{kind: tc.kind, instanceID: "i", after: after}
			s := New(Options{Faults: f.decide})
			err := tc.call(s)
			if !errors.Is(err, errInjected) {
				t.Errorf("%s (after effect %v): %v, want the injected error", tc.name, after, err)
			}
			if got := tc.effect(s); got != after {
				t.Errorf("%s (after effect %v): took effect %v", tc.name, after, got)
			}
		}
	}
}

// Invalid input is refused before the fault hook is asked, as the real store refuses it
// before any round trip.
func TestFaultsAreNotAskedAboutInvalidInput(t *testing.T) {
	f := &faultOn{}
	s := New(Options{Faults: f.decide})
	ctx := context.Background()
	_ = s.CreateInstance(ctx, &history.Instance{InstanceID: "a\x00"})
	_ = s.CommitEpisodes(ctx, []*history.Episode{nil})
	_ = s.Heartbeat(ctx, history.WorkerInfo{WorkerID: "w", Host: "\x00"})
	if len(f.seen) != 0 {
		t.Fatalf("asked about %v", f.seen)
	}
	if err := s.Heartbeat(ctx, history.WorkerInfo{WorkerID: "w"}); err != nil {
		t.Fatal(err)
	}
	if want := (Op{Kind: OpHeartbeat, WorkerID: "w"}); len(f.seen) != 1 || f.seen[0] != want {
		t.Fatalf("asked about %v, want %v", f.seen, want)
	}
}

// Liveness follows Options.Now, whatever time the workers report.
func TestLivenessFollowsTheStoreClock(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	live := func() int {
		ws, err := s.LiveWorkers(ctx, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return len(ws)
	}
	if err := s.Heartbeat(ctx, history.WorkerInfo{WorkerID: "w", HeartbeatAt: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := live(); n != 1 {
		t.Fatalf("%d live right after the heartbeat", n)
	}
	ws, _ := s.LiveWorkers(ctx, time.Second)
	if !ws[0].HeartbeatAt.Equal(now) {
		t.Errorf("heartbeat stamped %v, want the store's %v", ws[0].HeartbeatAt, now)
	}
	now = now.Add(10 * time.Second)
	if n := live(); n != 0 {
		t.Fatalf("%d live 10s after the heartbeat with a 10s max age", n)
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := New(Options{})
	if err := s.CreateInstance(ctx, &history.Instance{InstanceID: "i", Status: history.StatusPending}); !errors.Is(err, context.Canceled) {
		t.Fatalf("create with a canceled context: %v", err)
	}
	if err := s.CommitEpisodes(ctx, []*history.Episode{{InstanceID: "i", ExecutionID: "e", Number: 1}})[0]; !errors.Is(err, context.Canceled) {
		t.Fatalf("commit with a canceled context: %v", err)
	}
	if _, err := s.GetInstance(context.Background(), "i"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Fatalf("a canceled create took effect: %v", err)
	}
}
