package main

import (
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

func TestOpsAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rs := []opsReading{
		{t0, history.OpCounts{Insert: history.OpCount{Calls: 1}}},
		{t0.Add(time.Second), history.OpCounts{Insert: history.OpCount{Calls: 2}}},
	}
	for _, c := range []struct {
		at   time.Time
		want int64
		ok   bool
	}{{t0.Add(-time.Second), 1, true}, {t0, 1, true}, {t0.Add(time.Millisecond), 2, true}, {t0.Add(2 * time.Second), 0, false}} {
		got, ok := opsAt(rs, c.at)
		if ok != c.ok || got.Insert.Calls != c.want {
			t.Errorf("at %v: got %d %v, want %d %v", c.at.Sub(t0), got.Insert.Calls, ok, c.want, c.ok)
		}
	}
}

// The run's end sample: the sampler's first sample after the end for the processes it
// followed, the later full reading for processes that started during the run, and the
// full reading alone when the sampler has nothing after the end.
func TestEndSample(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &runMeter{
		procs:   fleetProcs{root: t.TempDir(), self: 1},
		cpuA:    procSample{at: t0, procs: map[int]process{1: {pid: 1, comm: "client", cpu: 1}, 2: {pid: 2, comm: "beam.smp", cpu: 10}}},
		groupsA: map[int]string{1: groupClient, 2: groupRabbitMQ},
		sampler: &runSampler{cpu: []procSample{
			{at: t0.Add(time.Second), busy: 5, procs: map[int]process{1: {pid: 1, comm: "client", cpu: 2}, 2: {pid: 2, comm: "beam.smp", cpu: 11}}},
			{at: t0.Add(2 * time.Second), busy: 6, procs: map[int]process{1: {pid: 1, comm: "client", cpu: 3}}},
		}},
	}
	b := procSample{at: t0.Add(9 * time.Second), busy: 9, procs: map[int]process{
		1: {pid: 1, comm: "client", cpu: 9}, 2: {pid: 2, comm: "beam.smp", cpu: 19}, 3: {pid: 3, comm: "postgres", cpu: 4},
	}}
	e, groups := m.endSample(b, t0.Add(1500*time.Millisecond))
	if e.at != t0.Add(2*time.Second) || e.procs[1].cpu != 3 || e.procs[3].cpu != 4 || len(e.procs) != 2 {
		t.Fatalf("end sample %+v", e)
	}
	if groups[1] != groupClient || groups[3] != groupPostgreSQL || len(groups) != 2 {
		t.Fatalf("groups %v", groups)
	}
	if e, _ := m.endSample(b, t0.Add(5*time.Second)); e.at != b.at {
		t.Fatalf("without a sample after the end: %+v", e)
	}
}
