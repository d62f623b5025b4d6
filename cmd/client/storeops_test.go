package main

import (
	"strings"
	"testing"

	"github.com/warrenhq/warren/history"
)

func TestOpsBetween(t *testing.T) {
	c := func(ins, find int64) history.OpCounts {
		return history.OpCounts{Insert: history.OpCount{Calls: ins, Docs: 10 * ins}, Find: history.OpCount{Calls: find}}
	}
	before := fleetOps{bySource: map[string]history.OpCounts{"dispatcher": c(5, 1), "worker a": c(100, 10), "worker gone": c(1, 1)}}
	after := fleetOps{bySource: map[string]history.OpCounts{"dispatcher": c(15, 1), "worker a": c(110, 30), "worker new": c(10, 0)}}
	r := opsBetween(before, after, 10)
	if r.Sources != 3 || r.Total != c(30, 20) {
		t.Fatalf("%+v", r)
	}
	if got := r.BySource["worker a"]; got != c(10, 20) || len(r.BySource) != 3 {
		t.Errorf("by source %+v", r.BySource)
	}
	if k := r.PerOrchestration[0]; k.Kind != "insert" || k.Calls != 3 || k.Docs != 30 {
		t.Errorf("insert %+v", k)
	}
	if k := r.PerOrchestration[1]; k.Kind != "find" || k.Calls != 2 || k.Docs != 0 {
		t.Errorf("find %+v", k)
	}
	notes := strings.Join(r.Notes, "; ")
	if !strings.Contains(notes, "worker new joined") || !strings.Contains(notes, "worker gone left") {
		t.Errorf("notes %q", notes)
	}
	if r := opsBetween(fleetOps{}, fleetOps{notes: []string{"x"}}, 10); r.Skipped == "" || len(r.Notes) != 1 {
		t.Errorf("without counters: %+v", r)
	}
}
