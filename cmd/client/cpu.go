package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// cpuReport is the CPU the processes serving a run spent over its window, from /proc: the
// difference of two samples, one taken before the first start was submitted and one when
// the last instance had been seen ended.
type cpuReport struct {
	// Skipped says why nothing was measured (no /proc on this system); the rest is empty.
	Skipped       string     `json:"skipped,omitempty"`
	WindowSeconds float64    `json:"windowSeconds,omitempty"`
	Groups        []cpuGroup `json:"groups,omitempty"`
	// ServingMsPerOrchestration is every group's CPU together, per orchestration.
	ServingMsPerOrchestration float64 `json:"servingMsPerOrchestration,omitempty"`
	// BusyCores is the whole machine's average busy cores over the window; OtherCores is
	// what of it the groups do not account for: other load beside the run.
	BusyCores  float64 `json:"busyCores,omitempty"`
	OtherCores float64 `json:"otherCores,omitempty"`
	// EndedProcesses counts serving processes that ended within the window: the CPU they
	// spent is not counted (a short-lived PostgreSQL backend, a restarted worker).
	EndedProcesses int `json:"endedProcesses,omitempty"`
}

// cpuGroup is one group of processes: the broker, FerretDB, PostgreSQL, the dispatcher, one
// worker, the client.
type cpuGroup struct {
	Name               string  `json:"name"`
	Processes          int     `json:"processes"`
	CPUSeconds         float64 `json:"cpuSeconds"`
	MsPerOrchestration float64 `json:"msPerOrchestration"`
	Cores              float64 `json:"cores"` // average over the window
}

// cpuBetween compares samples a and b; groupsA and groupsB name the serving processes in
// each. A process in b but not in a started within the window: all its CPU counts.
func cpuBetween(a, b procSample, groupsA, groupsB map[int]string, orchestrations int) cpuReport {
	wall := b.at.Sub(a.at).Seconds()
	r := cpuReport{WindowSeconds: wall}
	if wall <= 0 || orchestrations <= 0 {
		return r
	}
	byName := map[string]*cpuGroup{}
	var serving float64
	for pid, name := range groupsB {
		p := b.procs[pid]
		spent := p.cpu
		if old, ok := a.procs[pid]; ok && old.comm == p.comm && old.cpu <= p.cpu {
			spent -= old.cpu
		}
		g := byName[name]
		if g == nil {
			g = &cpuGroup{Name: name}
			byName[name] = g
		}
		g.Processes++
		g.CPUSeconds += spent
		serving += spent
	}
	for pid := range groupsA {
		if _, ok := b.procs[pid]; !ok {
			r.EndedProcesses++
		}
	}
	for _, g := range byName {
		g.MsPerOrchestration = 1000 * g.CPUSeconds / float64(orchestrations)
		g.Cores = g.CPUSeconds / wall
		r.Groups = append(r.Groups, *g)
	}
	sort.Slice(r.Groups, func(i, j int) bool {
		oi, oj := groupOrder(r.Groups[i].Name), groupOrder(r.Groups[j].Name)
		if oi != oj {
			return oi < oj
		}
		return r.Groups[i].Name < r.Groups[j].Name
	})
	r.ServingMsPerOrchestration = 1000 * serving / float64(orchestrations)
	r.BusyCores = (b.busy - a.busy) / wall
	r.OtherCores = max(0, (b.busy-a.busy-serving)/wall)
	return r
}

func groupOrder(name string) int {
	for i, g := range []string{groupPostgreSQL, groupFerretDB, groupMongoDB, groupRabbitMQ, groupWorker, groupDispatcher, groupClient} {
		if name == g || strings.HasPrefix(name, g+" ") {
			return i
		}
	}
	return 99
}

// print writes the report as text, one line per group.
func (r *cpuReport) print(w io.Writer) {
	if r.Skipped != "" {
		fmt.Fprintf(w, "CPU: not measured (%s)\n", r.Skipped)
		return
	}
	fmt.Fprintf(w, "CPU per orchestration over the run's %.2f s (from /proc): %.2f ms in all serving processes\n",
		r.WindowSeconds, r.ServingMsPerOrchestration)
	for _, g := range r.Groups {
		fmt.Fprintf(w, "  %-16s %8.2f ms  (%.2f cores, %d process(es))\n", g.Name, g.MsPerOrchestration, g.Cores, g.Processes)
	}
	fmt.Fprintf(w, "  machine: %.2f cores busy, %.2f of them other load beside the run\n", r.BusyCores, r.OtherCores)
	if r.EndedProcesses > 0 {
		fmt.Fprintf(w, "  (%d serving process(es) ended during the run; their CPU is not counted)\n", r.EndedProcesses)
	}
}
