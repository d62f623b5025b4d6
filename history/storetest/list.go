package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// seedInstances creates n instances with cycling statuses, names and parents. Creation
// times repeat in groups of three, so paging must order ties by id.
func seedInstances(t *testing.T, s history.Store, n int) (base time.Time, all []*history.Instance) {
	t.Helper()
	ctx := testContext(t)
	base = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	statuses := []history.Status{history.StatusRunning, history.StatusCompleted, history.StatusFailed, history.StatusPending}
	for i := range n {
		inst := instance(fmt.Sprintf("inst-%03d", (i*37)%n), statuses[i%len(statuses)], base.Add(time.Duration(i/3)*time.Second))
		inst.Name = []string{"Alpha", "Beta"}[i%2]
		if i%5 == 0 {
			inst.ParentInstanceID = "parent-1"
		}
		if err := s.CreateInstance(ctx, inst); err != nil {
			t.Fatal(err)
		}
		all = append(all, inst)
	}
	return base, all
}

// collect pages through the whole result and fails on a duplicate.
func collect(t *testing.T, s history.Store, f history.ListFilter) []string {
	t.Helper()
	ctx := testContext(t)
	ids := []string{}
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		page, next, err := s.ListInstances(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if f.PageSize > 0 && len(page) > f.PageSize {
			t.Fatalf("page of %d for page size %d", len(page), f.PageSize)
		}
		if next != "" && len(page) == 0 {
			t.Fatal("an empty page with a next cursor")
		}
		for _, inst := range page {
			if seen[inst.InstanceID] {
				t.Fatalf("instance %s listed twice", inst.InstanceID)
			}
			seen[inst.InstanceID] = true
			ids = append(ids, inst.InstanceID)
		}
		if next == "" {
			return ids
		}
		f.Cursor = next
	}
}

// expect lists the ids of the instances keep selects, in (createdAt, id) order.
func expect(all []*history.Instance, keep func(*history.Instance) bool) []string {
	var sel []*history.Instance
	for _, inst := range all {
		if keep(inst) {
			sel = append(sel, inst)
		}
	}
	slices.SortFunc(sel, func(a, b *history.Instance) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.InstanceID, b.InstanceID)
	})
	ids := []string{}
	for _, inst := range sel {
		ids = append(ids, inst.InstanceID)
	}
	return ids
}

func testListFiltersAndPages(t *testing.T, s history.Store) {
	base, all := seedInstances(t, s, 61)
	from, to := base.Add(4*time.Second), base.Add(13*time.Second)
	filters := []struct {
		name string
		f    history.ListFilter
		keep func(*history.Instance) bool
	}{
		{"all", history.ListFilter{}, func(*history.Instance) bool { return true }},
		{"one status", history.ListFilter{Statuses: []history.Status{history.StatusRunning}},
			func(i *history.Instance) bool { return i.Status == history.StatusRunning }},
		{"two statuses", history.ListFilter{Statuses: []history.Status{history.StatusCompleted, history.StatusFailed}},
			func(i *history.Instance) bool { return i.Status.Terminal() }},
		{"name", history.ListFilter{Name: "Beta"}, func(i *history.Instance) bool { return i.Name == "Beta" }},
		{"parent", history.ListFilter{ParentID: "parent-1"}, func(i *history.Instance) bool { return i.ParentInstanceID == "parent-1" }},
		{"created range", history.ListFilter{CreatedFrom: from, CreatedTo: to},
			func(i *history.Instance) bool { return !i.CreatedAt.Before(from) && i.CreatedAt.Before(to) }},
		{"created from", history.ListFilter{CreatedFrom: from}, func(i *history.Instance) bool { return !i.CreatedAt.Before(from) }},
		{"created to", history.ListFilter{CreatedTo: to}, func(i *history.Instance) bool { return i.CreatedAt.Before(to) }},
		{"combined", history.ListFilter{Statuses: []history.Status{history.StatusRunning, history.StatusPending}, Name: "Alpha", CreatedFrom: from},
			func(i *history.Instance) bool {
				return (i.Status == history.StatusRunning || i.Status == history.StatusPending) && i.Name == "Alpha" && !i.CreatedAt.Before(from)
			}},
		{"nothing", history.ListFilter{Name: "Gamma"}, func(*history.Instance) bool { return false }},
	}
	for _, tc := range filters {
		want := expect(all, tc.keep)
		for _, size := range []int{1, 4, 7, 0} { // 0: the default page, larger than the data
			t.Run(fmt.Sprintf("%s/page%d", tc.name, size), func(t *testing.T) {
				f := tc.f
				f.PageSize = size
				if got := collect(t, s, f); !slices.Equal(got, want) {
					t.Fatalf("listed %v\nwant   %v", got, want)
				}
			})
		}
	}
}

// An instance created while a client pages through the list is either listed or not, but
// nothing that existed before is skipped or repeated.
func testListPagingWhileCreating(t *testing.T, s history.Store) {
	ctx := testContext(t)
	base, all := seedInstances(t, s, 20)
	f := history.ListFilter{PageSize: 3}
	seen := map[string]int{}
	for pages := 0; ; pages++ {
		page, next, err := s.ListInstances(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, inst := range page {
			seen[inst.InstanceID]++
		}
		// New instances both before and after the cursor.
		for _, at := range []time.Duration{0, time.Hour} {
			id := fmt.Sprintf("new-%d-%d", pages, at/time.Hour)
			if err := s.CreateInstance(ctx, instance(id, history.StatusRunning, base.Add(at))); err != nil {
				t.Fatal(err)
			}
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	for _, inst := range all {
		if seen[inst.InstanceID] != 1 {
			t.Errorf("instance %s listed %d times", inst.InstanceID, seen[inst.InstanceID])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("instance %s listed %d times", id, n)
		}
	}
}
