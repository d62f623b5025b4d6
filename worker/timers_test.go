package worker

import (
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

func TestOverdueTimers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	past := []history.Event{
		{Kind: history.TimerCreated, TaskID: 1, FireAt: t0},                  // fired below
		{Kind: history.TimerCreated, TaskID: 2, FireAt: t0.Add(time.Minute)}, // overdue
		{Kind: history.TimerCreated, TaskID: 3, FireAt: t0.Add(time.Hour)},   // not yet due
		{Kind: history.TaskScheduled, TaskID: 4, FireAt: t0},                 // not a timer
		{Kind: history.TimerFired, TaskID: 1, FireAt: t0},
	}
	got := overdueTimers(past, t0.Add(10*time.Minute))
	if len(got) != 1 || got[0].TaskID != 2 {
		t.Fatalf("overdue = %+v, want only task 2", got)
	}
	if got := overdueTimers(past, t0); len(got) != 0 {
		t.Fatalf("nothing is overdue at %v, got %+v", t0, got)
	}
}
