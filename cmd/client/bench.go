package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
)

// benchResult is what `client bench` measured. Latencies and the rate come from the
// instances' own timestamps (created → last updated, written by the dispatcher and the
// worker), so the client's polling does not blur them. CPU is read from /proc over the
// window from just before the first start to the moment the store listed every instance
// as ended (readmodel.go); store operations are the fleet's own counters over the same run.
type benchResult struct {
	Orchestrator string  `json:"orchestrator"`
	Count        int     `json:"count"`
	Completed    int     `json:"completed"`
	Failed       int     `json:"failed"`
	StartSeconds float64 `json:"startSeconds"` // submitting all (with --closed: the whole run)
	RunSeconds   float64 `json:"runSeconds"`   // first created → last ended
	PerSecond    float64 `json:"perSecond"`    // ended instances per second of RunSeconds
	// ReadModelSeconds is how long after the last end (as stored) the store listed every
	// instance of the run as ended, as far as polls readModelPoll apart can tell
	// (readmodel.go); PerSecondWritten is the rate with that time counted, the rate the
	// fleet sustains with its documents kept up to date. ReadModelNote says why they are
	// missing (the documents did not catch up in time, or the dispatcher did not answer).
	ReadModelSeconds float64 `json:"readModelSeconds"`
	PerSecondWritten float64 `json:"perSecondWritten,omitempty"`
	ReadModelNote    string  `json:"readModelNote,omitempty"`
	LatencyP50Ms     float64 `json:"latencyP50Ms"` // created → ended, per instance
	LatencyP99Ms     float64 `json:"latencyP99Ms"` //
	LatencyMaxMs     float64 `json:"latencyMaxMs"` //
	FirstFailure     string  `json:"firstFailure,omitempty"`
	PurgeFailures    int     `json:"purgeFailures,omitempty"`
	InstancePrefix   string  `json:"instancePrefix"`
	// CPU and StoreOps are what the run cost the processes serving it (meter.go).
	CPU      *cpuReport      `json:"cpu,omitempty"`
	StoreOps *storeOpsReport `json:"storeOps,omitempty"`
}

func runBench(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	if o.count < 1 || o.concurrency < 1 {
		return c.usageError("--count and --concurrency must be at least 1")
	}
	var input json.RawMessage
	if strings.TrimSpace(o.input) != "" {
		if !json.Valid([]byte(o.input)) {
			return c.fail(fmt.Errorf("the input is not valid JSON: %s", shorten(o.input, 80)))
		}
		input = json.RawMessage(o.input)
	}
	var timeout time.Duration = noLimit
	if o.timeout != "" {
		d, err := time.ParseDuration(o.timeout)
		if err != nil || d <= 0 {
			return c.usageError(fmt.Sprintf("--timeout %q: want a duration such as 5m", o.timeout))
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "bench-" + hex.EncodeToString(b[:])
	ids := make([]string, o.count)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%06d", prefix, i+1)
	}
	name := args[0]
	if !c.cfg.JSON {
		fmt.Fprintf(c.stderr, "Starting %d × %s (%d at a time), ids %s-*\n", o.count, name, o.concurrency, prefix)
	}
	statuses := make([]*api.Status, len(ids))
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	waiter := client.New(c.cfg.Dispatcher, append(c.opts, client.WithMaxPoll(30*time.Second))...)
	start := func(ctx context.Context, id string) error {
		if _, err := c.client.Start(ctx, name, input, client.WithInstanceID(id)); err != nil {
			return fmt.Errorf("starting: %w", err)
		}
		return nil
	}
	wait := func(ctx context.Context, id string) error {
		st, err := waiter.Wait(ctx, id, noLimit)
		if err != nil {
			return err
		}
		statuses[index[id]] = st
		return nil
	}
	meter := c.startMeter(ctx)
	t0 := time.Now()
	var err error
	var startSecs float64
	if o.closed {
		// Each of the --concurrency slots starts its next instance once its last has ended.
		err = forEach(ctx, ids, o.concurrency, func(ctx context.Context, id string) error {
			if err := start(ctx, id); err != nil {
				return err
			}
			return wait(ctx, id)
		})
		startSecs = time.Since(t0).Seconds()
	} else {
		err = forEach(ctx, ids, o.concurrency, start)
		startSecs = time.Since(t0).Seconds()
		if err == nil {
			err = forEach(ctx, ids, o.concurrency, wait)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		fmt.Fprintf(c.stderr, "client bench: not all %d instances ended within %s\n", o.count, timeout)
		return exitTimedOut
	}
	if err != nil {
		return c.fail(err)
	}

	res := summarize(name, prefix, statuses)
	res.StartSeconds = startSecs
	last := lastEnded(statuses)
	end := last.Add(readModelSettle)
	if written, err := c.awaitReadModel(ctx, firstCreated(statuses)); err != nil {
		fmt.Fprintf(c.stderr, "client bench: %s; the run is measured to now\n", oneLine(err.Error()))
		res.ReadModelNote = oneLine(err.Error())
		end = time.Now()
	} else {
		// From the last end as stored, not as heard: a wait may hear it late, by which
		// time the documents may have caught up.
		res.ReadModelSeconds = max(written.Sub(last), 0).Seconds()
		if written.After(end) {
			end = written
		}
	}
	if span := res.RunSeconds + res.ReadModelSeconds; span > 0 && res.ReadModelNote == "" {
		res.PerSecondWritten = float64(res.Completed+res.Failed) / span
	}
	res.CPU, res.StoreOps = meter.stop(ctx, res.Completed+res.Failed, end)
	if o.purge {
		// A purge that fails is reported, and does not stop the others.
		var failed atomic.Int64
		_ = forEach(ctx, ids, o.concurrency, func(ctx context.Context, id string) error {
			if err := c.client.Purge(ctx, id); err != nil {
				if failed.Add(1) == 1 {
					fmt.Fprintf(c.stderr, "client bench: purging %s: %s\n", id, oneLine(err.Error()))
				}
			}
			return nil
		})
		res.PurgeFailures = int(failed.Load())
	}
	if o.jsonFile != "" {
		if err := writeJSONFile(o.jsonFile, res); err != nil {
			return c.fail(err)
		}
	}
	if c.cfg.JSON {
		c.printJSON(res)
	} else {
		fmt.Fprintf(c.stdout, "%d × %s: %d completed, %d failed\n", res.Count, name, res.Completed, res.Failed)
		fmt.Fprintf(c.stdout, "submitted in %.2f s; ran in %.2f s: %.1f orchestrations/s\n", res.StartSeconds, res.RunSeconds, res.PerSecond)
		if res.ReadModelNote == "" {
			fmt.Fprintf(c.stdout, "documents: all written within %.2f s of the last end: %.1f orchestrations/s with their documents\n", res.ReadModelSeconds, res.PerSecondWritten)
		}
		fmt.Fprintf(c.stdout, "latency (created → ended): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyMaxMs)
		res.CPU.print(c.stdout)
		res.StoreOps.print(c.stdout)
		if res.FirstFailure != "" {
			fmt.Fprintf(c.stdout, "first failure: %s\n", res.FirstFailure)
		}
	}
	if res.Failed > 0 {
		return exitFailed
	}
	return exitOK
}

func summarize(name, prefix string, statuses []*api.Status) benchResult {
	res := benchResult{Orchestrator: name, Count: len(statuses), InstancePrefix: prefix}
	var lat []time.Duration
	for _, st := range statuses {
		if st == nil {
			continue
		}
		if st.Status == history.StatusCompleted {
			res.Completed++
		} else {
			res.Failed++
			if res.FirstFailure == "" {
				res.FirstFailure = st.InstanceID + " " + string(st.Status)
				if st.Failure != nil {
					res.FirstFailure += ": " + failureText(st.Failure)
				}
			}
		}
		lat = append(lat, st.LastUpdatedAt.Sub(st.CreatedAt))
	}
	if len(lat) == 0 {
		return res
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.LatencyP50Ms = ms(lat[(len(lat)-1)*50/100])
	res.LatencyP99Ms = ms(lat[(len(lat)-1)*99/100])
	res.LatencyMaxMs = ms(lat[len(lat)-1])
	res.RunSeconds = lastEnded(statuses).Sub(firstCreated(statuses)).Seconds()
	if res.RunSeconds > 0 {
		res.PerSecond = float64(len(lat)) / res.RunSeconds
	}
	return res
}

// firstCreated is the earliest creation among the instances, as the dispatcher stored it:
// the run's own instances are those created since, whatever the client's clock says.
func firstCreated(statuses []*api.Status) time.Time {
	var first time.Time
	for _, st := range statuses {
		if st != nil && (first.IsZero() || st.CreatedAt.Before(first)) {
			first = st.CreatedAt
		}
	}
	return first
}

// lastEnded is the latest end among the instances (as stored: their last update).
func lastEnded(statuses []*api.Status) time.Time {
	var last time.Time
	for _, st := range statuses {
		if st != nil && st.LastUpdatedAt.After(last) {
			last = st.LastUpdatedAt
		}
	}
	return last
}

// forEach runs fn for every id, n at a time, and returns the first error (which stops the
// rest).
func forEach(ctx context.Context, ids []string, n int, fn func(context.Context, string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	work := make(chan string)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := fn(ctx, id); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for _, id := range ids {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return nil
}
