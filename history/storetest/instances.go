package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

func testInstanceLifecycle(t *testing.T, s history.Store) {
	ctx := testContext(t)
	created := time.Date(2026, 11, 25, 10, 0, 0, 123000000, time.UTC) // whole milliseconds
	in := &history.Instance{
		InstanceID: "batch-7", Name: "ProvisionNewDevices", ExecutionID: "e1", Status: history.StatusPending,
		Input: json.RawMessage(`{ "n" : 1 }`), CustomStatus: json.RawMessage(`"starting"`),
		ParentInstanceID: "root", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		CreatedAt: created, LastUpdatedAt: created, Executions: 1,
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

// Instance times are kept to the millisecond (BSON datetimes in MongoDB), in UTC.
func testInstanceTimesKeepMilliseconds(t *testing.T, s history.Store) {
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

// Two creators of one instance id at once: exactly one succeeds.
func testCreateInstanceRace(t *testing.T, s history.Store) {
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

// A store keeps its own copy of what it is given and gives out copies: changing a record
// after writing it, or after reading it, changes nothing stored.
func testRecordsAreCopied(t *testing.T, s history.Store) {
	ctx := testContext(t)
	inst := instance("copied", history.StatusRunning, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	inst.Input = json.RawMessage(`"in"`)
	if err := s.CreateInstance(ctx, inst); err != nil {
		t.Fatal(err)
	}
	inst.Input[1] = 'X'
	got, err := s.GetInstance(ctx, "copied")
	if err != nil {
		t.Fatal(err)
	}
	got.Input[1] = 'Y'
	if again, err := s.GetInstance(ctx, "copied"); err != nil || string(again.Input) != `"in"` {
		t.Errorf("stored input = %s, %v; want \"in\"", again.Input, err)
	}

	ep := episode("copied", "e", 1, "mine")
	commit(t, s, ep)
	ep.Consumed[0] = "changed after commit"
	eps, err := s.LoadHistory(ctx, "copied", "e")
	if err != nil {
		t.Fatal(err)
	}
	eps[0].Events[0].Result[1] = 'Z'
	if got := markers(t, s, "copied", "e"); !reflect.DeepEqual(got, []string{"mine"}) {
		t.Errorf("stored markers = %q, want [mine]", got)
	}
	if eps, _ := s.LoadHistory(ctx, "copied", "e"); string(eps[0].Events[0].Result) != `"mine"` {
		t.Errorf("stored result = %s, want \"mine\"", eps[0].Events[0].Result)
	}

	w := history.WorkerInfo{WorkerID: "w", Orchestrators: []string{"A"}}
	if err := s.Heartbeat(ctx, w); err != nil {
		t.Fatal(err)
	}
	w.Orchestrators[0] = "B"
	ws, err := s.LiveWorkers(ctx, time.Minute)
	if err != nil || len(ws) != 1 || !reflect.DeepEqual(ws[0].Orchestrators, []string{"A"}) {
		t.Errorf("live workers = %+v, %v; want w with orchestrator A", ws, err)
	}
}

// GetInstances returns each existing instance of the ids asked for, as GetInstance would,
// leaves out the ids without a document and the instances not asked for, and refuses a bad
// id before reading anything.
func testGetInstances(t *testing.T, s history.Store) {
	ctx := testContext(t)
	created := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		if err := s.CreateInstance(ctx, instance(fmt.Sprintf("many-%d", i), history.StatusRunning, created)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetInstances(ctx, []string{"many-1", "many-3", "absent", "many-4"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["absent"] != nil {
		t.Fatalf("got %d instances (%v), want many-1, many-3 and many-4", len(got), keys(got))
	}
	for _, id := range []string{"many-1", "many-3", "many-4"} {
		one, err := s.GetInstance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[id], one) {
			t.Errorf("%s: GetInstances gave %+v, GetInstance %+v", id, got[id], one)
		}
	}
	if none, err := s.GetInstances(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("no ids: %d instances, %v; want none and no error", len(none), err)
	}
	if _, err := s.GetInstances(ctx, []string{"many-0", ""}); !errors.Is(err, history.ErrInvalidArgument) {
		t.Errorf("an empty id among them = %v, want ErrInvalidArgument", err)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
