package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// Counter is implemented by the stores that count instances (the dashboard's counts by
// status); it is not part of history.Store.
type Counter interface {
	CountInstances(ctx context.Context, f history.ListFilter) (int64, error)
}

// RunCount checks CountInstances against what ListInstances lists, for each status and
// for the name, parent and created-time filters.
func RunCount(t *testing.T, newStore func(t *testing.T) history.Store) {
	s := newStore(t)
	c, ok := s.(Counter)
	if !ok {
		t.Fatalf("%T does not count instances", s)
	}
	base, _ := seedInstances(t, s, 23)
	filters := []history.ListFilter{
		{},
		{Statuses: []history.Status{history.StatusRunning}},
		{Statuses: []history.Status{history.StatusSuspended}},
		{Statuses: []history.Status{history.StatusCompleted, history.StatusFailed}},
		{Name: "Beta"},
		{ParentID: "parent-1", Statuses: []history.Status{history.StatusRunning}},
		{CreatedFrom: base.Add(2 * time.Second), CreatedTo: base.Add(5 * time.Second)},
		{PageSize: 2, Cursor: "ignored"},
	}
	for _, f := range filters {
		want := len(collect(t, s, history.ListFilter{Statuses: f.Statuses, Name: f.Name, ParentID: f.ParentID,
			CreatedFrom: f.CreatedFrom, CreatedTo: f.CreatedTo}))
		got, err := c.CountInstances(testContext(t), f)
		if err != nil {
			t.Fatalf("count %+v: %v", f, err)
		}
		if got != int64(want) {
			t.Errorf("count %+v = %d, want %d", f, got, want)
		}
	}
	if _, err := c.CountInstances(testContext(t), history.ListFilter{CreatedFrom: base, CreatedTo: base}); err == nil {
		t.Error("an empty created range was counted")
	}
}
