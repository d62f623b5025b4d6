package main

import (
	"context"
	"os"
	"time"
)

// runMeter measures what a bench run costs beside its rate and latency: the CPU of the
// processes serving it (from /proc, when the fleet runs on this machine) and the store
// operations the fleet's own counters saw, both from just before the first start to the
// end stop is given: when the ended instances' documents, which follow their ends, are
// written, so that those writes are the run's too.
type runMeter struct {
	c       *cli
	procs   fleetProcs
	cpuA    procSample
	groupsA map[int]string
	cpuErr  error
	opsA    fleetOps
	sampler *runSampler
}

// startMeter takes the readings a run is measured from and starts sampling; call it right
// before the first start is submitted.
func (c *cli) startMeter(ctx context.Context) *runMeter {
	m := &runMeter{c: c, procs: fleetProcs{root: c.procRoot(), self: os.Getpid()}}
	m.opsA = c.readFleetOps(ctx)
	if st := m.opsA.stats; st != nil {
		m.procs.dispatcher, m.procs.hub = st.PID, st.Hub
	}
	m.cpuA, m.cpuErr = readProcs(m.procs.root)
	if m.cpuErr == nil {
		m.groupsA = m.procs.groups(m.cpuA)
	}
	m.sampler = c.startSampler(ctx, m.procs.root, m.groupsA)
	return m
}

// readModelSettle is how long after its end an instance's document is written at the
// soonest: workers write ended documents every DocLag/10 (100 ms by default), in batches.
// A run's window closes no sooner after its last end.
const readModelSettle = 300 * time.Millisecond

// stop reports per orchestration, the run's window closing at end. It waits (boundedly)
// for the workers' first heartbeats after that.
func (m *runMeter) stop(ctx context.Context, orchestrations int, end time.Time) (*cpuReport, *storeOpsReport) {
	select {
	case <-time.After(time.Until(end)):
	case <-ctx.Done():
	}
	m.sampler.finish()
	cpu := &cpuReport{}
	if m.cpuErr != nil {
		cpu.Skipped = "cannot read " + m.procs.root + ": " + oneLine(m.cpuErr.Error())
	} else if b, err := readProcs(m.procs.root); err != nil {
		cpu.Skipped = "cannot read " + m.procs.root + ": " + oneLine(err.Error())
	} else {
		e, groupsE := m.endSample(b, end)
		*cpu = cpuBetween(m.cpuA, e, m.groupsA, groupsE, orchestrations)
	}
	ops := opsBetween(m.opsA, m.c.readFleetOpsAt(ctx, end, m.sampler), orchestrations)
	return cpu, &ops
}

// endSample is the CPU at the run's end: the first sample after end of the processes
// serving it at the start, and the processes that started since as b (read later) has
// them, or b alone when no sample came after end.
func (m *runMeter) endSample(b procSample, end time.Time) (procSample, map[int]string) {
	groupsB := m.procs.groups(b)
	e, ok := m.sampler.cpuAt(end)
	if !ok {
		return b, groupsB
	}
	groups := map[int]string{}
	for pid := range e.procs {
		groups[pid] = m.groupsA[pid]
	}
	for pid, g := range groupsB {
		if _, old := m.cpuA.procs[pid]; !old {
			e.procs[pid] = b.procs[pid]
			groups[pid] = g
		}
	}
	return e, groups
}

func (c *cli) procRoot() string {
	if c.proc != "" {
		return c.proc
	}
	return "/proc"
}
