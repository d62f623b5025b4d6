package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// Input that no store state could accept is refused with ErrInvalidArgument before anything
// is written. That includes what FerretDB on PostgreSQL cannot keep (a NUL byte in any
// string), so that every store refuses the same records.
func testBadInput(t *testing.T, s history.Store) {
	ctx := testContext(t)
	now := time.Now()
	long := strings.Repeat("x", maxIDBytes+1)
	withName := func(name string) *history.Instance {
		inst := instance("named", history.StatusPending, now)
		inst.Name = name
		return inst
	}
	nulEvent := episode("i", "e", 1, "m")
	nulEvent.Events[0].Name = "a\x00b"
	cases := map[string]func() error{
		"create nil":             func() error { return s.CreateInstance(ctx, nil) },
		"create empty id":        func() error { return s.CreateInstance(ctx, instance("", history.StatusPending, now)) },
		"create long id":         func() error { return s.CreateInstance(ctx, instance(long, history.StatusPending, now)) },
		"create NUL id":          func() error { return s.CreateInstance(ctx, instance("a\x00b", history.StatusPending, now)) },
		"create bad UTF-8 id":    func() error { return s.CreateInstance(ctx, instance("a\xffb", history.StatusPending, now)) },
		"create NUL name":        func() error { return s.CreateInstance(ctx, withName("a\x00b")) },
		"create without status":  func() error { return s.CreateInstance(ctx, instance("s", "", now)) },
		"get empty id":           func() error { _, err := s.GetInstance(ctx, ""); return err },
		"get long id":            func() error { _, err := s.GetInstance(ctx, long); return err },
		"update nil":             func() error { return s.UpdateInstance(ctx, nil) },
		"update empty id":        func() error { return s.UpdateInstance(ctx, instance("", history.StatusPending, now)) },
		"update NUL name":        func() error { return s.UpdateInstance(ctx, withName("\x00")) },
		"purge empty id":         func() error { return s.Purge(ctx, "") },
		"purge NUL id":           func() error { return s.Purge(ctx, "\x00") },
		"load empty instance":    func() error { _, err := s.LoadHistory(ctx, "", "e"); return err },
		"load empty execution":   func() error { _, err := s.LoadHistory(ctx, "i", ""); return err },
		"commit empty execution": func() error { return s.CommitEpisodes(ctx, []*history.Episode{episode("i", "", 1, "m")})[0] },
		"commit long execution":  func() error { return s.CommitEpisodes(ctx, []*history.Episode{episode("i", long, 1, "m")})[0] },
		"commit negative number": func() error { return s.CommitEpisodes(ctx, []*history.Episode{episode("i", "e", -1, "m")})[0] },
		"commit NUL event name":  func() error { return s.CommitEpisodes(ctx, []*history.Episode{nulEvent})[0] },
		"heartbeat empty id":     func() error { return s.Heartbeat(ctx, history.WorkerInfo{}) },
		"heartbeat NUL host":     func() error { return s.Heartbeat(ctx, history.WorkerInfo{WorkerID: "w", Host: "\x00"}) },
		"remove empty worker":    func() error { return s.RemoveWorker(ctx, "") },
		"live workers 0":         func() error { _, err := s.LiveWorkers(ctx, 0); return err },
		"hub 0 partitions":       func() error { return s.EnsureHub(ctx, 0) },
		"hub too many":           func() error { return s.EnsureHub(ctx, maxPartitions+1) },
		"list negative size":     func() error { _, _, err := s.ListInstances(ctx, history.ListFilter{PageSize: -1}); return err },
		"list huge size": func() error {
			_, _, err := s.ListInstances(ctx, history.ListFilter{PageSize: maxPageSize + 1})
			return err
		},
		"list bad cursor": func() error { _, _, err := s.ListInstances(ctx, history.ListFilter{Cursor: "%%%"}); return err },
		"list empty range": func() error {
			_, _, err := s.ListInstances(ctx, history.ListFilter{CreatedFrom: now, CreatedTo: now})
			return err
		},
	}
	for name, call := range cases {
		if err := call(); !errors.Is(err, history.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	nothingWritten(t, s)
}

// nothingWritten checks that the store holds no instance, no history of "i"/"e" and no
// worker.
func nothingWritten(t *testing.T, s history.Store) {
	t.Helper()
	ctx := testContext(t)
	page, _, err := s.ListInstances(ctx, history.ListFilter{})
	if err != nil || len(page) != 0 {
		t.Errorf("after refused calls the hub holds %d instances (%v)", len(page), err)
	}
	if got := markers(t, s, "i", "e"); len(got) != 0 {
		t.Errorf("after refused commits the history holds %q", got)
	}
	if ws, err := s.LiveWorkers(ctx, time.Hour); err != nil || len(ws) != 0 {
		t.Errorf("after refused heartbeats the hub holds %d workers (%v)", len(ws), err)
	}
}

// A record over MongoDB's 16 MiB document limit is refused with ErrTooLarge, on its own: the
// other episodes of the batch are committed. A large one that fits is stored.
func testTooLarge(t *testing.T, s history.Store) {
	ctx := testContext(t)
	huge := make([]byte, maxDocumentBytes+1)
	big := episode("big", "x", 1, "big")
	big.Outbox = []history.OutboxMessage{{ID: "o", Kind: "k", InstanceID: "big", Body: make([]byte, 2<<20)}}
	hugeEp := episode("i", "e", 1, "huge")
	hugeEp.Outbox = []history.OutboxMessage{{ID: "o", Kind: "k", InstanceID: "i", Body: huge}}
	errs := s.CommitEpisodes(ctx, []*history.Episode{big, hugeEp, episode("small", "x", 1, "small")})
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("big and small episodes: %v, %v", errs[0], errs[2])
	}
	if !errors.Is(errs[1], history.ErrTooLarge) {
		t.Fatalf("17 MiB episode: %v, want ErrTooLarge", errs[1])
	}
	eps, err := s.LoadHistory(ctx, "big", "x")
	if err != nil || len(eps) != 1 || len(eps[0].Outbox[0].Body) != 2<<20 {
		t.Fatalf("big episode did not round-trip: %d episodes, %v", len(eps), err)
	}

	inst := instance("too-large", history.StatusPending, time.Now())
	inst.Input = json.RawMessage(huge)
	if err := s.CreateInstance(ctx, inst); !errors.Is(err, history.ErrTooLarge) {
		t.Errorf("create with a 16 MiB input: %v, want ErrTooLarge", err)
	}
	inst.Input = nil
	if err := s.CreateInstance(ctx, inst); err != nil {
		t.Fatal(err)
	}
	inst.Output = json.RawMessage(huge)
	inst.Status = history.StatusCompleted
	if err := s.UpdateInstance(ctx, inst); !errors.Is(err, history.ErrTooLarge) {
		t.Errorf("update with a 16 MiB output: %v, want ErrTooLarge", err)
	}
	if got, err := s.GetInstance(ctx, "too-large"); err != nil || got.Status != history.StatusPending {
		t.Errorf("after a refused update: %+v, %v; want the pending document", got, err)
	}
}
