package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// PurgeInstances deletes the ended instances a filter selects, with their history, and
// nothing else: live instances and other instances' history stay, a filter that names a
// live status is refused having changed nothing, and the count is what was deleted.
func testPurgeInstancesFilters(t *testing.T, s history.Store) {
	ctx := testContext(t)
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	type spec struct {
		id      string
		status  history.Status
		name    string
		created time.Duration // after t0
	}
	specs := []spec{
		{"old-done", history.StatusCompleted, "Provision", 0},
		{"old-failed", history.StatusFailed, "Provision", time.Minute},
		{"old-other", history.StatusTerminated, "Other", 2 * time.Minute},
		{"new-done", history.StatusCompleted, "Provision", time.Hour},
		{"new-failed", history.StatusFailed, "Provision", time.Hour + time.Millisecond},
		{"running", history.StatusRunning, "Provision", 0},
		{"pending", history.StatusPending, "Provision", 0},
		{"suspended", history.StatusSuspended, "Other", 0},
		{"continued", history.StatusContinuedAsNew, "Provision", 0},
	}
	var eps []*history.Episode
	for _, sp := range specs {
		inst := instance(sp.id, sp.status, t0.Add(sp.created))
		inst.Name = sp.name
		if err := s.CreateInstance(ctx, inst); err != nil {
			t.Fatal(err)
		}
		eps = append(eps,
			episode(sp.id, inst.ExecutionID, 1, sp.id+" 1"),
			episode(sp.id, inst.ExecutionID, 2, sp.id+" 2"),
			episode(sp.id, "earlier-"+sp.id, 1, sp.id+" earlier"))
	}
	commit(t, s, eps...)

	// left lists the instances still stored, and checks that each has its whole history
	// and that the purged ones have none.
	left := func(t *testing.T) []string {
		t.Helper()
		var ids []string
		for _, sp := range specs {
			_, err := s.GetInstance(ctx, sp.id)
			kept := err == nil
			if err != nil && !errors.Is(err, history.ErrInstanceNotFound) {
				t.Fatal(err)
			}
			if kept {
				ids = append(ids, sp.id)
			}
			want := 0
			if kept {
				want = 2
			}
			if got := markers(t, s, sp.id, "exec-"+sp.id); len(got) != want {
				t.Errorf("%s (kept %v): history of its execution is %q", sp.id, kept, got)
			}
			if got := markers(t, s, sp.id, "earlier-"+sp.id); len(got) != want/2 {
				t.Errorf("%s (kept %v): history of its earlier execution is %q", sp.id, kept, got)
			}
		}
		return ids
	}
	all := left(t)

	for _, f := range []history.PurgeFilter{
		{Statuses: []history.Status{history.StatusRunning}},
		{Statuses: []history.Status{history.StatusCompleted, history.StatusContinuedAsNew}},
		{Statuses: []history.Status{history.StatusCompleted, "Bogus"}},
		{Statuses: []history.Status{history.StatusPending}, Name: "Provision"},
		{CreatedFrom: t0.Add(time.Hour), CreatedTo: t0},
		{Limit: -1},
	} {
		n, err := s.PurgeInstances(ctx, f)
		if !errors.Is(err, history.ErrInvalidArgument) || n != 0 {
			t.Errorf("PurgeInstances(%+v) = %d, %v; want 0, ErrInvalidArgument", f, n, err)
		}
	}
	if got := left(t); !slices.Equal(got, all) {
		t.Fatalf("refused purges changed the store: %q left of %q", got, all)
	}

	steps := []struct {
		f    history.PurgeFilter
		want int
		left []string
	}{
		{history.PurgeFilter{Statuses: []history.Status{history.StatusFailed}, CreatedTo: t0.Add(time.Hour)}, 1,
			[]string{"old-done", "old-other", "new-done", "new-failed", "running", "pending", "suspended", "continued"}},
		{history.PurgeFilter{Name: "Other"}, 1,
			[]string{"old-done", "new-done", "new-failed", "running", "pending", "suspended", "continued"}},
		{history.PurgeFilter{CreatedFrom: t0.Add(time.Hour + time.Millisecond), CreatedTo: t0.Add(2 * time.Hour)}, 1,
			[]string{"old-done", "new-done", "running", "pending", "suspended", "continued"}},
		{history.PurgeFilter{Statuses: []history.Status{history.StatusTerminated}}, 0,
			[]string{"old-done", "new-done", "running", "pending", "suspended", "continued"}},
		{history.PurgeFilter{Statuses: []history.Status{history.StatusCompleted, history.StatusCompleted}, Limit: 1}, 1, nil},
		{history.PurgeFilter{}, 1,
			[]string{"running", "pending", "suspended", "continued"}},
	}
	for i, step := range steps {
		n, err := s.PurgeInstances(ctx, step.f)
		if err != nil {
			t.Fatalf("step %d: PurgeInstances(%+v): %v", i, step.f, err)
		}
		if n != step.want {
			t.Errorf("step %d: PurgeInstances(%+v) = %d, want %d", i, step.f, n, step.want)
		}
		got := left(t)
		if step.left != nil && !slices.Equal(got, step.left) {
			t.Fatalf("step %d: PurgeInstances(%+v) left %q, want %q", i, step.f, got, step.left)
		}
		if step.left == nil && len(got) != 5 {
			t.Fatalf("step %d: a limit of 1 left %q", i, got)
		}
	}
}

// PurgeInstances goes through more instances than one batch holds, and stops at its limit.
func testPurgeInstancesInBatches(t *testing.T, s history.Store) {
	ctx := testContext(t)
	const total, limit = 1234, 1100
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	insts := []*history.Instance{instance("live", history.StatusRunning, t0)}
	eps := []*history.Episode{episode("live", "exec-live", 1, "live")}
	for i := range total {
		id := fmt.Sprintf("many-%04d", i)
		insts = append(insts, instance(id, history.StatusCompleted, t0.Add(time.Duration(i)*time.Millisecond)))
		eps = append(eps, episode(id, "exec-"+id, 1, id))
	}
	for i, err := range s.CreateInstances(ctx, insts) {
		if err != nil {
			t.Fatalf("create %s: %v", insts[i].InstanceID, err)
		}
	}
	commit(t, s, eps...)

	began := time.Now()
	if n, err := s.PurgeInstances(ctx, history.PurgeFilter{Limit: limit}); err != nil || n != limit {
		t.Fatalf("PurgeInstances with a limit of %d = %d, %v", limit, n, err)
	}
	if n, err := s.PurgeInstances(ctx, history.PurgeFilter{Statuses: []history.Status{history.StatusCompleted}}); err != nil || n != total-limit {
		t.Fatalf("PurgeInstances of the rest = %d, %v; want %d", n, err, total-limit)
	}
	t.Logf("purged %d instances in %s", total, time.Since(began).Round(time.Millisecond))
	page, _, err := s.ListInstances(ctx, history.ListFilter{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].InstanceID != "live" {
		t.Fatalf("left after purging everything ended: %+v", page)
	}
	if got := markers(t, s, "live", "exec-live"); len(got) != 1 {
		t.Errorf("the live instance's history: %q", got)
	}
	for _, i := range []int{0, 499, 500, limit, total - 1} {
		id := fmt.Sprintf("many-%04d", i)
		if got := markers(t, s, id, "exec-"+id); len(got) != 0 {
			t.Errorf("history of purged %s: %q", id, got)
		}
	}
}

// A bulk purge racing a restart of one of its instances never erases the new execution's
// history, and leaves the old history whole when the instance is not purged.
func testPurgeInstancesSparesANewExecution(t *testing.T, s history.Store) {
	ctx := testContext(t)
	for round := range 30 {
		id := fmt.Sprintf("restarted-%d", round)
		var (
			purged   int
			purgeErr error
		)
		// Earlier rounds leave no Completed instance: each was purged or restarted.
		committed := raceARestart(t, s, id, func() {
			purged, purgeErr = s.PurgeInstances(ctx, history.PurgeFilter{Statuses: []history.Status{history.StatusCompleted}})
		})
		if purgeErr != nil {
			t.Fatalf("round %d: purge: %v", round, purgeErr)
		}
		if committed {
			if got := markers(t, s, id, "exec-2"); len(got) != 1 {
				t.Fatalf("round %d: purge (%d) erased the new execution's first episode", round, purged)
			}
		}
		if purged > 1 {
			t.Fatalf("round %d: purged %d of one instance", round, purged)
		}
		want := map[int]int{1: 0, 0: 2}[purged]
		if got := markers(t, s, id, "exec-1"); len(got) != want {
			t.Fatalf("round %d: purged %d, and the old execution's history is %q", round, purged, got)
		}
	}
}
