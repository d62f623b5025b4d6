package worker

import (
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

func TestOverdueTimers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := 30 * time.Second
	past := []history.Event{
		{Kind: history.TimerCreated, TaskID: 1, FireAt: t0},                  // fired below
		{Kind: history.TimerCreated, TaskID: 2, FireAt: t0.Add(time.Minute)}, // overdue
		{Kind: history.TimerCreated, TaskID: 3, FireAt: t0.Add(time.Hour)},   // not yet due
		{Kind: history.TaskScheduled, TaskID: 4, FireAt: t0},                 // not a timer
		{Kind: history.TimerFired, TaskID: 1, FireAt: t0},
	}
	got := overdueTimers(past, t0.Add(10*time.Minute), grace, map[int64]int{})
	if len(got) != 1 || got[0].TaskID != 2 {
		t.Fatalf("overdue = %+v, want only task 2", got)
	}
	if got := overdueTimers(past, t0, grace, map[int64]int{}); len(got) != 0 {
		t.Fatalf("nothing is overdue at %v, got %+v", t0, got)
	}
	// Each resend doubles the wait before the next: after k resends, grace·2^k past due.
	due := t0.Add(time.Minute)
	cases := []struct {
		resends int
		at      time.Duration // after due
		want    bool
	}{
		{0, 29 * time.Second, false}, {0, 31 * time.Second, true},
		{1, 59 * time.Second, false}, {1, 61 * time.Second, true},
		{3, 239 * time.Second, false}, {3, 241 * time.Second, true},
	}
	for _, c := range cases {
		got := overdueTimers(past[1:2], due.Add(c.at), grace, map[int64]int{2: c.resends})
		if (len(got) == 1) != c.want {
			t.Errorf("after %d resends, %v past due: resend %v, want %v", c.resends, c.at, len(got) == 1, c.want)
		}
	}
}
