package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A fake /proc: the machine's line and two processes, one with a name that holds spaces
// and a parenthesis (the kernel does not escape it).
func TestReadProcs(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "stat"), "cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 1 2 3 4\n")
	writeFile(t, filepath.Join(root, "7", "stat"), "7 (beam.smp) S 1 7 7 0 -1 4194560 1 0 0 0 250 50 9 9 20 0 30 0 100 0 0\n")
	writeFile(t, filepath.Join(root, "7", "cmdline"), "/usr/lib/erlang/bin/beam.smp\x00-W\x00w\x00")
	writeFile(t, filepath.Join(root, "8", "stat"), "8 (odd) name) R 1 8 8 0 -1 0 0 0 0 0 10 20 0 0 20 0 1 0 5 0 0\n")
	writeFile(t, filepath.Join(root, "self", "stat"), "not a pid")
	s, err := readProcs(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := (100 + 5 + 50 + 3 + 2) / 100.0; math.Abs(s.busy-want) > 1e-9 {
		t.Errorf("busy %v, want %v (idle and iowait left out)", s.busy, want)
	}
	if len(s.procs) != 2 {
		t.Fatalf("procs %+v", s.procs)
	}
	if p := s.procs[7]; p.comm != "beam.smp" || p.cpu != 3 || len(p.args) != 3 || p.args[2] != "w" {
		t.Errorf("pid 7: %+v", p)
	}
	if p := s.procs[8]; p.comm != "odd) name" || math.Abs(p.cpu-0.3) > 1e-9 || p.args != nil {
		t.Errorf("pid 8: %+v", p)
	}
	if _, err := readProcs(filepath.Join(root, "missing")); err == nil {
		t.Error("a missing /proc read without error")
	}
}

func TestEnviron(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "9", "environ"), "A=1\x00WARREN_HUB=bench\x00WARREN_HUBX=no\x00")
	if got := environ(root, 9, "WARREN_HUB"); got != "bench" {
		t.Errorf("got %q", got)
	}
	if got := environ(root, 10, "WARREN_HUB"); got != "" {
		t.Errorf("a missing process: got %q", got)
	}
}

// The report over two samples: deltas per group, a process that started in the window
// counts whole, one that ended is reported, the machine's rest is other load.
func TestCPUBetween(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := procSample{at: t0, busy: 1000, procs: map[int]process{
		1: {pid: 1, comm: "postgres", cpu: 50}, 2: {pid: 2, comm: "postgres", cpu: 10},
		3: {pid: 3, comm: "worker", cpu: 5}, 4: {pid: 4, comm: "postgres", cpu: 1},
	}}
	b := procSample{at: t0.Add(10 * time.Second), busy: 1016, procs: map[int]process{
		1: {pid: 1, comm: "postgres", cpu: 56}, 2: {pid: 2, comm: "postgres", cpu: 12},
		3: {pid: 3, comm: "worker", cpu: 8}, 5: {pid: 5, comm: "postgres", cpu: 1},
	}}
	ga := map[int]string{1: groupPostgreSQL, 2: groupPostgreSQL, 3: "worker 3", 4: groupPostgreSQL}
	gb := map[int]string{1: groupPostgreSQL, 2: groupPostgreSQL, 3: "worker 3", 5: groupPostgreSQL}
	r := cpuBetween(a, b, ga, gb, 100)
	if r.WindowSeconds != 10 || len(r.Groups) != 2 || r.EndedProcesses != 1 {
		t.Fatalf("%+v", r)
	}
	pg, w := r.Groups[0], r.Groups[1]
	if pg.Name != groupPostgreSQL || pg.Processes != 3 || pg.CPUSeconds != 9 || pg.MsPerOrchestration != 90 || pg.Cores != 0.9 {
		t.Errorf("postgresql %+v", pg)
	}
	if w.Name != "worker 3" || w.CPUSeconds != 3 || w.MsPerOrchestration != 30 {
		t.Errorf("worker %+v", w)
	}
	if r.ServingMsPerOrchestration != 120 || r.BusyCores != 1.6 || math.Abs(r.OtherCores-0.4) > 1e-9 {
		t.Errorf("totals %+v", r)
	}
}
