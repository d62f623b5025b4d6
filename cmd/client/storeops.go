package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

// storeOpsReport is what the fleet's stores did over a run, from Warren's own counters:
// the dispatcher's (/v1/stats) and each worker's (its heartbeat, through /v1/workers).
type storeOpsReport struct {
	Skipped string `json:"skipped,omitempty"`
	// Sources counts the processes whose counters were read (the dispatcher, workers).
	Sources int              `json:"sources,omitempty"`
	Total   history.OpCounts `json:"total"`
	// PerOrchestration is Total by kind, divided by the orchestrations run.
	PerOrchestration []opsPerOrchestration `json:"perOrchestration,omitempty"`
	// BySource is each process's share of Total ("dispatcher", "worker ID"): the
	// dispatcher's includes the reads that answer the bench's own waits.
	BySource map[string]history.OpCounts `json:"bySource,omitempty"`
	// Notes say what the figures leave out (a worker that left, a heartbeat not current).
	Notes []string `json:"notes,omitempty"`
}

type opsPerOrchestration struct {
	Kind  string  `json:"kind"`
	Calls float64 `json:"calls"` // round trips
	Docs  float64 `json:"docs"`  // documents inserted, returned, matched or deleted
}

// fleetOps is one reading of the fleet's counters by source ("dispatcher", worker ids),
// and the dispatcher's stats (nil if it has no /v1/stats).
type fleetOps struct {
	bySource map[string]history.OpCounts
	stats    *api.Stats
	notes    []string
}

// heartbeatWait bounds how long the end of a run waits for every worker's heartbeat to
// postdate it (the heartbeat comes every second by default).
const heartbeatWait = 15 * time.Second

// readFleetOps reads the dispatcher's counters and the workers', as they are now (the
// workers' as of their last heartbeats). The workers are read first: that request costs
// the dispatcher a store read, which is not the run's.
func (c *cli) readFleetOps(ctx context.Context) fleetOps {
	f := fleetOps{bySource: map[string]history.OpCounts{}}
	workers, err := c.currentWorkers(ctx, time.Time{})
	f.addDispatcher(c.stats(ctx))
	f.addWorkers(workers, err, nil)
	return f
}

// readFleetOpsAt reads the counters as they were when the run ended (at end): the first
// readings the sampler took after it, or, for a source it has none of, the next ones
// (waiting, boundedly, for every worker's first heartbeat after end).
func (c *cli) readFleetOpsAt(ctx context.Context, end time.Time, s *runSampler) fleetOps {
	f := fleetOps{bySource: map[string]history.OpCounts{}}
	st, err := c.stats(ctx)
	if ops, ok := opsAt(s.dispatcher, end); ok && err == nil {
		st.StoreOps = &ops
	}
	f.addDispatcher(st, err)
	workers, err := c.currentWorkers(ctx, end)
	f.addWorkers(workers, err, func(id string) (history.OpCounts, bool) { return opsAt(s.workers[id], end) })
	if s.polls > 0 {
		f.notes = append(f.notes, fmt.Sprintf("the dispatcher's counts include the bench's own reads of /v1/workers, one a second (%d in all), each a store read", s.polls))
	}
	return f
}

func (c *cli) stats(ctx context.Context) (*api.Stats, error) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.client.Stats(sctx)
}

func (f *fleetOps) addDispatcher(st *api.Stats, err error) {
	switch {
	case err != nil:
		f.notes = append(f.notes, "the dispatcher's counters are not counted: "+oneLine(err.Error()))
	case st.StoreOps == nil:
		f.stats = st
		f.notes = append(f.notes, "the dispatcher's store does not count its operations")
	default:
		f.stats = st
		f.bySource["dispatcher"] = *st.StoreOps
	}
}

// addWorkers adds the workers' counters: sampled's answer when it has one, else the
// counters of the worker's last heartbeat.
func (f *fleetOps) addWorkers(workers []api.Worker, err error, sampled func(id string) (history.OpCounts, bool)) {
	if err != nil {
		f.notes = append(f.notes, err.Error())
	}
	for _, w := range workers {
		if sampled != nil {
			if ops, ok := sampled(w.WorkerID); ok {
				f.bySource["worker "+w.WorkerID] = ops
				continue
			}
		}
		if w.StoreOps == nil {
			f.notes = append(f.notes, fmt.Sprintf("worker %s does not report store counters", w.WorkerID))
			continue
		}
		f.bySource["worker "+w.WorkerID] = *w.StoreOps
	}
}

var errHeartbeatsBehind = errors.New("not every worker's heartbeat came after the run's end: their counters may miss its last operations")

// currentWorkers lists the live workers, polling until each one's heartbeat is newer than
// after (a zero after takes the first answer).
func (c *cli) currentWorkers(ctx context.Context, after time.Time) ([]api.Worker, error) {
	deadline := time.Now().Add(heartbeatWait)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		wr, err := c.client.Workers(wctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("the workers' counters are not counted: %s", oneLine(err.Error()))
		}
		current := true
		for _, w := range wr.Workers {
			if !w.HeartbeatAt.After(after) {
				current = false
			}
		}
		if current {
			return wr.Workers, nil
		}
		if time.Now().After(deadline) {
			return wr.Workers, errHeartbeatsBehind
		}
		select {
		case <-ctx.Done():
			return wr.Workers, ctx.Err()
		case <-tick.C:
		}
	}
}

// opsBetween is what happened between two readings, per orchestration.
func opsBetween(before, after fleetOps, orchestrations int) storeOpsReport {
	r := storeOpsReport{Notes: append([]string(nil), after.notes...)}
	var sources []string
	for src := range after.bySource {
		sources = append(sources, src)
	}
	sort.Strings(sources)
	for _, src := range sources {
		prev, ok := before.bySource[src]
		if !ok {
			r.Notes = append(r.Notes, src+" joined during the run: counted from its start")
		}
		d := after.bySource[src].Sub(prev)
		if r.BySource == nil {
			r.BySource = map[string]history.OpCounts{}
		}
		r.BySource[src] = d
		r.Total = r.Total.Add(d)
		r.Sources++
	}
	for src := range before.bySource {
		if _, ok := after.bySource[src]; !ok {
			r.Notes = append(r.Notes, src+" left during the run: its operations are not counted")
		}
	}
	sort.Strings(r.Notes)
	if r.Sources == 0 {
		r.Skipped = "no process reported store counters"
		return r
	}
	if orchestrations > 0 {
		n := float64(orchestrations)
		for _, k := range r.Total.Kinds() {
			r.PerOrchestration = append(r.PerOrchestration, opsPerOrchestration{Kind: k.Kind, Calls: float64(k.Count.Calls) / n, Docs: float64(k.Count.Docs) / n})
		}
	}
	return r
}

func (r *storeOpsReport) print(w io.Writer) {
	if r.Skipped != "" {
		fmt.Fprintf(w, "store operations: not measured (%s)\n", r.Skipped)
	} else {
		t := r.Total.Total()
		fmt.Fprintf(w, "store operations per orchestration (%d processes' counters; %d round trips, %d documents in all):\n", r.Sources, t.Calls, t.Docs)
		for _, k := range r.PerOrchestration {
			fmt.Fprintf(w, "  %-8s %8.2f round trips  %8.2f documents\n", k.Kind, k.Calls, k.Docs)
		}
		var sources []string
		for src := range r.BySource {
			sources = append(sources, src)
		}
		sort.Strings(sources)
		for _, src := range sources {
			t := r.BySource[src].Total()
			fmt.Fprintf(w, "  by %s: %d round trips, %d documents\n", src, t.Calls, t.Docs)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}
