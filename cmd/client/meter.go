package main

import (
	"context"
	"os"
	"time"
)

// runMeter measures what a bench run costs beside its rate and latency: the CPU of the
// processes serving it (from /proc, when the fleet runs on this machine) and the store
// operations the fleet's own counters saw.
type runMeter struct {
	c       *cli
	procs   fleetProcs
	cpuA    procSample
	groupsA map[int]string
	cpuErr  error
	opsA    fleetOps
}

// startMeter takes the readings a run is measured from; call it right before the first
// start is submitted.
func (c *cli) startMeter(ctx context.Context) *runMeter {
	m := &runMeter{c: c, procs: fleetProcs{root: c.procRoot(), self: os.Getpid()}}
	m.opsA = c.readFleetOps(ctx, time.Time{})
	if st := m.opsA.stats; st != nil {
		m.procs.dispatcher, m.procs.hub = st.PID, st.Hub
	}
	m.cpuA, m.cpuErr = readProcs(m.procs.root)
	if m.cpuErr == nil {
		m.groupsA = m.procs.groups(m.cpuA)
	}
	return m
}

// stop takes the closing readings, right after the last instance was seen ended, and
// reports per orchestration. It waits (boundedly) for the workers' next heartbeats.
func (m *runMeter) stop(ctx context.Context, orchestrations int) (*cpuReport, *storeOpsReport) {
	cpu := &cpuReport{}
	if m.cpuErr != nil {
		cpu.Skipped = "cannot read " + m.procs.root + ": " + oneLine(m.cpuErr.Error())
	} else if b, err := readProcs(m.procs.root); err != nil {
		cpu.Skipped = "cannot read " + m.procs.root + ": " + oneLine(err.Error())
	} else {
		*cpu = cpuBetween(m.cpuA, b, m.groupsA, m.procs.groups(b), orchestrations)
	}
	ops := opsBetween(m.opsA, m.c.readFleetOps(ctx, time.Now()), orchestrations)
	return cpu, &ops
}

func (c *cli) procRoot() string {
	if c.proc != "" {
		return c.proc
	}
	return "/proc"
}
