package membroker

import (
	"sort"
	"time"
)

// timer is a scheduled message waiting for the virtual clock.
type timer struct {
	q *queue
	e entry // e.due is when it joins q
}

// timers are kept in due order, then in the order they were scheduled: add puts a timer
// after those due at the same time.
type timers []timer

func (ts *timers) add(t timer) {
	i := sort.Search(len(*ts), func(i int) bool { return (*ts)[i].e.due.After(t.e.due) })
	*ts = append(*ts, timer{})
	copy((*ts)[i+1:], (*ts)[i:])
	(*ts)[i] = t
}

// takeDue removes and returns the timers due at or before now, in order.
func (ts *timers) takeDue(now time.Time) []timer {
	n := sort.Search(len(*ts), func(i int) bool { return (*ts)[i].e.due.After(now) })
	due := append([]timer(nil), (*ts)[:n]...)
	*ts = append((*ts)[:0], (*ts)[n:]...)
	return due
}

// NextDue is when the earliest scheduled message is due; false when none is.
func (b *Broker) NextDue() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.timers) == 0 {
		return time.Time{}, false
	}
	return b.timers[0].e.due, true
}

// Tick moves every scheduled message that is due by the clock to the tail of its queue, in
// due order and then in the order they were scheduled, and returns how many it moved.
func (b *Broker) Tick() int {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	due := b.timers.takeDue(now)
	for _, t := range due {
		t.q.push(t.e)
	}
	return len(due)
}

// Scheduled is the number of scheduled messages not yet due.
func (b *Broker) Scheduled() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.timers)
}
