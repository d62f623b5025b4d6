package main

import (
	"context"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
)

// runSampler reads, while a run goes on, the serving processes' CPU (every 100 ms) and the
// fleet's store counters (every second), so that the run's end is placed where its last
// instance ended rather than where the client saw it end: a wait can return seconds later
// (the dispatcher's waiters fall back to polling when they miss an announcement), and the
// fleet's idle work meanwhile is not the run's.
type runSampler struct {
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu         sync.Mutex
	cpu        []procSample
	dispatcher []opsReading            // at: when the client got the answer
	workers    map[string][]opsReading // at: the heartbeat's time
	polls      int                     // /v1/workers requests (each costs the dispatcher a store read)
}

type opsReading struct {
	at  time.Time
	ops history.OpCounts
}

const (
	cpuSampleEvery = 100 * time.Millisecond
	opsSampleEvery = time.Second
)

// startSampler samples until finish; pids are the serving processes to follow (nil: no
// CPU sampling, as without /proc).
func (c *cli) startSampler(ctx context.Context, root string, pids map[int]string) *runSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &runSampler{cancel: cancel, workers: map[string][]opsReading{}}
	if pids != nil {
		s.every(ctx, cpuSampleEvery, func() {
			if p, err := readPids(root, pids); err == nil {
				s.mu.Lock()
				s.cpu = append(s.cpu, p)
				s.mu.Unlock()
			}
		})
	}
	s.every(ctx, opsSampleEvery, func() { s.readOps(ctx, c) })
	return s
}

func (s *runSampler) every(ctx context.Context, d time.Duration, fn func()) {
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

func (s *runSampler) readOps(ctx context.Context, c *cli) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if st, err := c.client.Stats(rctx); err == nil && st.StoreOps != nil {
		s.mu.Lock()
		s.dispatcher = append(s.dispatcher, opsReading{time.Now(), *st.StoreOps})
		s.mu.Unlock()
	}
	wr, err := c.client.Workers(rctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	if err != nil {
		return
	}
	for _, w := range wr.Workers {
		rs := s.workers[w.WorkerID]
		if w.StoreOps != nil && (len(rs) == 0 || w.HeartbeatAt.After(rs[len(rs)-1].at)) {
			s.workers[w.WorkerID] = append(rs, opsReading{w.HeartbeatAt, *w.StoreOps})
		}
	}
}

// finish stops sampling.
func (s *runSampler) finish() {
	s.cancel()
	s.done.Wait()
}

// cpuAt is the first CPU sample taken at or after t.
func (s *runSampler) cpuAt(t time.Time) (procSample, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.cpu {
		if !p.at.Before(t) {
			return p, true
		}
	}
	return procSample{}, false
}

// opsAt is the first reading at or after t.
func opsAt(rs []opsReading, t time.Time) (history.OpCounts, bool) {
	for _, r := range rs {
		if !r.at.Before(t) {
			return r.ops, true
		}
	}
	return history.OpCounts{}, false
}
