package queues

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// timerSink consumes q and records, per message id, how late it arrived against want.
type timerSink struct {
	mu      sync.Mutex
	want    map[string]time.Time
	late    map[string]time.Duration
	dups    int
	unknown int
}

func newTimerSink() *timerSink {
	return &timerSink{want: map[string]time.Time{}, late: map[string]time.Duration{}}
}

func (s *timerSink) expect(id string, due time.Time) {
	s.mu.Lock()
	s.want[id] = due
	s.mu.Unlock()
}

func (s *timerSink) handle(d *Delivery) {
	now := time.Now()
	_ = d.Ack()
	s.mu.Lock()
	defer s.mu.Unlock()
	due, ok := s.want[d.ID]
	switch {
	case !ok:
		s.unknown++
	case s.late[d.ID] != 0:
		s.dups++
	default:
		l := now.Sub(due)
		if l == 0 {
			l = 1
		}
		s.late[d.ID] = l
	}
}

func (s *timerSink) arrived() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.late)
}

// check fails on early or missing timers and returns the lateness percentiles.
func (s *timerSink) check(t testing.TB) (p50, p99, worst time.Duration) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var ls []time.Duration
	for id, l := range s.late {
		if l < 0 {
			t.Errorf("timer %s arrived %v early", id, -l)
		}
		ls = append(ls, l)
	}
	if len(s.late) != len(s.want) || s.unknown > 0 {
		t.Errorf("%d of %d timers arrived, %d unknown", len(s.late), len(s.want), s.unknown)
	}
	if len(ls) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ls)
	return ls[len(ls)/2], ls[len(ls)*99/100], ls[len(ls)-1]
}

func TestTimers200AllArriveNoneEarly(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	q := ControlQueue(c.cfg.Hub, 0)
	sink := newTimerSink()
	k, err := c.Consume(ctx, q, 50, sink.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	const n = 200
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		delay := 50*time.Millisecond + time.Duration(rand.Int64N(int64(4950*time.Millisecond)))
		id := fmt.Sprintf("timer-%d", i)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			due := time.Now().Add(delay)
			sink.expect(id, due)
			if err := c.Schedule(ctx, q, due, Message{ID: id, InstanceID: "i"}); err != nil {
				t.Errorf("Schedule: %v", err)
			}
		}()
	}
	wg.Wait()
	waitFor(t, 15*time.Second, "200 timers", func() bool { return sink.arrived() == n })
	p50, p99, worst := sink.check(t)
	t.Logf("lateness of %d timers: p50 %v, p99 %v, max %v", n, p50, p99, worst)
	if sink.dups > 0 {
		t.Logf("%d duplicate deliveries (at-least-once)", sink.dups)
	}
}

func TestTimerLongerThanTheLadderIsRearmed(t *testing.T) {
	// Ticks of 5 ms and 4 levels: the ladder holds at most 75 ms in one pass.
	c := newHub(t, func(cfg *Config) { cfg.TimerTick = 5 * time.Millisecond; cfg.TimerLevels = 4 })
	if got := c.MaxTimerDelay(); got != 75*time.Millisecond {
		t.Fatalf("MaxTimerDelay = %v, want 75ms", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := WorkItemQueue(c.cfg.Hub)
	sink := newTimerSink()
	k, err := c.Consume(ctx, q, 10, sink.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	for i, delay := range []time.Duration{200 * time.Millisecond, 1500 * time.Millisecond} {
		id := fmt.Sprintf("long-%d", i)
		due := time.Now().Add(delay)
		sink.expect(id, due)
		if err := c.Schedule(ctx, q, due, Message{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "both long timers", func() bool { return sink.arrived() == 2 })
	_, _, worst := sink.check(t)
	t.Logf("latest of the re-armed timers: %v late", worst)
	if worst > 500*time.Millisecond {
		t.Errorf("a re-armed timer arrived %v late, want well under 500ms", worst)
	}
	if sink.dups > 0 {
		t.Errorf("%d duplicate deliveries", sink.dups)
	}
}

func TestScheduleInThePastPublishesNow(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := ControlQueue(c.cfg.Hub, 1)
	got := make(chan *Delivery, 1)
	k, err := c.Consume(ctx, q, 1, func(d *Delivery) { _ = d.Ack(); got <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	due := time.Now().Add(-time.Minute)
	if err := c.Schedule(ctx, q, due, Message{ID: "past"}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		if d.ID != "past" || d.Due.UnixMilli() != due.UnixMilli()+1 && d.Due.UnixMilli() != due.UnixMilli() {
			t.Errorf("got %q due %v, want past due %v", d.ID, d.Due, due)
		}
	case <-ctx.Done():
		t.Fatal("a timer due in the past did not arrive")
	}
}
