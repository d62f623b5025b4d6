package mongo

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

func instance(id string, status history.Status, created time.Time) *history.Instance {
	return &history.Instance{
		InstanceID: id, Name: "Provision", ExecutionID: "exec-" + id, Status: status,
		CreatedAt: created, LastUpdatedAt: created,
	}
}

func TestInstanceLifecycle(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	created := time.Date(2026, 11, 25, 10, 0, 0, 123000000, time.UTC) // whole milliseconds
	in := &history.Instance{
		InstanceID: "batch-7", Name: "ProvisionNewDevices", ExecutionID: "e1", Status: history.StatusPending,
		Input: json.RawMessage(`{ "n" : 1 }`), CustomStatus: json.RawMessage(`"starting"`),
		ParentInstanceID: "root", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		CreatedAt: created, LastUpdatedAt: created,
	}
	if err := s.CreateInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	dup := *in
	dup.Name = "Other"
	if err := s.CreateInstance(ctx, &dup); !errors.Is(err, history.ErrInstanceExists) {
		t.Fatalf("second create = %v, want ErrInstanceExists", err)
	}
	got, err := s.GetInstance(ctx, "batch-7")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("got  %+v\nwant %+v", got, in)
	}

	up := *got
	up.Status = history.StatusCompleted
	up.Output = json.RawMessage(`[true]`)
	up.Failure = &history.Failure{Type: "x", Message: "y"}
	up.LastEpisode = 9
	up.LastUpdatedAt = created.Add(time.Hour)
	if err := s.UpdateInstance(ctx, &up); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetInstance(ctx, "batch-7")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &up) {
		t.Fatalf("after update got %+v\nwant %+v", got, &up)
	}

	if _, err := s.GetInstance(ctx, "missing"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Errorf("get missing = %v, want ErrInstanceNotFound", err)
	}
	if err := s.UpdateInstance(ctx, instance("missing", history.StatusRunning, created)); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Errorf("update missing = %v, want ErrInstanceNotFound", err)
	}
	if _, err := s.GetInstance(ctx, "missing"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Errorf("an update of a missing instance created it: %v", err)
	}
}

// Instance times are BSON datetimes: they come back at millisecond precision, in UTC.
func TestInstanceTimesKeepMilliseconds(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	at := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.FixedZone("X", 3600))
	if err := s.CreateInstance(ctx, instance("t", history.StatusRunning, at)); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetInstance(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if want := at.Truncate(time.Millisecond).UTC(); got.CreatedAt != want {
		t.Fatalf("createdAt = %v, want %v", got.CreatedAt, want)
	}
}

func TestPurge(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	now := time.Now().UTC()
	for _, inst := range []*history.Instance{
		instance("running", history.StatusRunning, now),
		instance("done", history.StatusCompleted, now),
		instance("neighbour", history.StatusCompleted, now),
		instance("continued", history.StatusContinuedAsNew, now),
	} {
		if err := s.CreateInstance(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	for i, err := range s.CommitEpisodes(ctx, []*history.Episode{
		episode("running", "exec-running", 1, "r1"),
		episode("done", "old-exec", 1, "d-old"),
		episode("done", "exec-done", 1, "d1"),
		episode("done", "exec-done", 2, "d2"),
		episode("neighbour", "exec-neighbour", 1, "n1"),
	}) {
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}

	for _, id := range []string{"running", "continued"} {
		if err := s.Purge(ctx, id); !errors.Is(err, history.ErrNotTerminal) {
			t.Errorf("purge %s = %v, want ErrNotTerminal", id, err)
		}
		if _, err := s.GetInstance(ctx, id); err != nil {
			t.Errorf("refused purge of %s still removed it: %v", id, err)
		}
	}
	if eps, err := s.LoadHistory(ctx, "running", "exec-running"); err != nil || len(eps) != 1 {
		t.Errorf("refused purge touched the history: %d episodes, %v", len(eps), err)
	}

	if err := s.Purge(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetInstance(ctx, "done"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Errorf("purged instance still readable: %v", err)
	}
	for _, exec := range []string{"exec-done", "old-exec"} {
		if eps, err := s.LoadHistory(ctx, "done", exec); err != nil || len(eps) != 0 {
			t.Errorf("history of purged execution %s: %d episodes, %v", exec, len(eps), err)
		}
	}
	if eps, err := s.LoadHistory(ctx, "neighbour", "exec-neighbour"); err != nil || len(eps) != 1 {
		t.Errorf("purge touched another instance's history: %d episodes, %v", len(eps), err)
	}
	if err := s.Purge(ctx, "done"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Errorf("second purge = %v, want ErrInstanceNotFound", err)
	}
}

// Bad input is refused with ErrInvalidArgument before anything is written.
func TestBadInputIsRefused(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	now := time.Now()
	long := strings.Repeat("x", maxIDLen+1)
	cases := map[string]func() error{
		"create nil":             func() error { return s.CreateInstance(ctx, nil) },
		"create empty id":        func() error { return s.CreateInstance(ctx, instance("", history.StatusPending, now)) },
		"create long id":         func() error { return s.CreateInstance(ctx, instance(long, history.StatusPending, now)) },
		"create NUL id":          func() error { return s.CreateInstance(ctx, instance("a\x00b", history.StatusPending, now)) },
		"create bad UTF-8 id":    func() error { return s.CreateInstance(ctx, instance("a\xffb", history.StatusPending, now)) },
		"create without status":  func() error { return s.CreateInstance(ctx, instance("s", "", now)) },
		"get empty id":           func() error { _, err := s.GetInstance(ctx, ""); return err },
		"update nil":             func() error { return s.UpdateInstance(ctx, nil) },
		"update empty id":        func() error { return s.UpdateInstance(ctx, instance("", history.StatusPending, now)) },
		"purge empty id":         func() error { return s.Purge(ctx, "") },
		"load empty instance":    func() error { _, err := s.LoadHistory(ctx, "", "e"); return err },
		"load empty execution":   func() error { _, err := s.LoadHistory(ctx, "i", ""); return err },
		"commit empty execution": func() error { return s.CommitEpisodes(ctx, []*history.Episode{episode("i", "", 1, "m")})[0] },
		"commit negative number": func() error { return s.CommitEpisodes(ctx, []*history.Episode{episode("i", "e", -1, "m")})[0] },
		"heartbeat empty id":     func() error { return s.Heartbeat(ctx, history.WorkerInfo{}) },
		"remove empty worker":    func() error { return s.RemoveWorker(ctx, "") },
		"live workers 0":         func() error { _, err := s.LiveWorkers(ctx, 0); return err },
		"hub 0 partitions":       func() error { return s.EnsureHub(ctx, 0) },
		"hub too many":           func() error { return s.EnsureHub(ctx, MaxPartitions+1) },
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
		if err := call(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	// Nothing reached the database.
	page, _, err := s.ListInstances(ctx, history.ListFilter{})
	if err != nil || len(page) != 0 {
		t.Errorf("after refused calls the hub holds %d instances (%v)", len(page), err)
	}
	if eps, err := s.LoadHistory(ctx, "i", "e"); err != nil || len(eps) != 0 {
		t.Errorf("after refused commits the history holds %d episodes (%v)", len(eps), err)
	}
}

// Two creators of one instance id at once: exactly one succeeds.
func TestCreateInstanceRaceHasOneWinner(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	for round := range 50 {
		id := fmt.Sprintf("dup-%d", round)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.CreateInstance(ctx, instance(id, history.StatusPending, time.Now()))
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, history.ErrInstanceExists):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d creators succeeded (%v)", round, won, errs)
		}
	}
}
