package membroker

import (
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/queues"
)

func TestScheduledMessagesWaitForTheClock(t *testing.T) {
	b, clk := newBroker(t, nil)
	c := b.Connect("w1")
	start := clk.Now()
	at := func(d time.Duration) time.Time { return start.Add(d) }
	schedule := func(queue string, due time.Time, ids ...string) {
		t.Helper()
		for _, id := range ids {
			if err := c.Schedule(bg, queue, due, queues.Message{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
	}
	schedule(work, at(3*time.Second), "w3a")
	schedule(ctl0, at(time.Second), "c1")
	schedule(work, at(time.Second), "w1")
	schedule(work, at(3*time.Second), "w3b")
	schedule(work, at(2*time.Second), "w2")
	schedule(work, start, "now")                    // due now: straight to the queue
	schedule(work, at(-time.Minute), "past")        // overdue: the same
	schedule(dlq, at(time.Hour), "dead-in-an-hour") // timers reach every hub queue

	if got := pendingIDs(b, work); !slices.Equal(got, []string{"now", "past", "w1", "w2", "w3a", "w3b"}) {
		t.Errorf("Pending(work) = %v, want the queued, then the scheduled in due order", got)
	}
	if n := b.Scheduled(); n != 6 {
		t.Errorf("Scheduled() = %d, want 6", n)
	}
	if due, ok := b.NextDue(); !ok || !due.Equal(at(time.Second)) {
		t.Errorf("NextDue() = %v %v", due, ok)
	}
	if n := b.Tick(); n != 0 {
		t.Errorf("Tick before anything is due moved %d", n)
	}

	clk.Advance(2500 * time.Millisecond)
	if n := b.Tick(); n != 3 {
		t.Errorf("Tick at 2.5s moved %d, want 3", n)
	}
	if got := pendingIDs(b, work); !slices.Equal(got, []string{"now", "past", "w1", "w2", "w3a", "w3b"}) {
		t.Errorf("Pending(work) = %v", got)
	}
	if got := pendingIDs(b, ctl0); !slices.Equal(got, []string{"c1"}) {
		t.Errorf("Pending(ctl0) = %v", got)
	}
	if due, _ := b.NextDue(); !due.Equal(at(3 * time.Second)) {
		t.Errorf("NextDue() = %v, want 3s", due)
	}
	clk.Advance(500 * time.Millisecond) // exactly due
	b.Tick()
	clk.Advance(time.Hour)
	b.Tick()
	if _, ok := b.NextDue(); ok || b.Scheduled() != 0 {
		t.Errorf("timers left: %d", b.Scheduled())
	}

	var r recorder
	consume(t, c, work, 10, r.keep)
	drain(b)
	if !slices.Equal(r.ids(), []string{"now", "past", "w1", "w2", "w3a", "w3b"}) {
		t.Errorf("delivered %v", r.ids())
	}
	for _, d := range r.got {
		if want := map[string]time.Time{"now": start, "past": at(-time.Minute), "w1": at(time.Second),
			"w2": at(2 * time.Second), "w3a": at(3 * time.Second), "w3b": at(3 * time.Second)}[d.ID]; !d.Due.Equal(want) {
			t.Errorf("%s: Due = %v, want %v", d.ID, d.Due, want)
		}
	}
	if got := pendingIDs(b, dlq); !slices.Equal(got, []string{"dead-in-an-hour"}) {
		t.Errorf("dead-letter queue %v", got)
	}
}

// A plain publish after a Schedule of the same instant goes behind it only once Tick runs:
// the queue takes timers when the simulation says the clock has moved.
func TestTickAppendsBehindWhatIsQueued(t *testing.T) {
	b, clk := newBroker(t, nil)
	c := b.Connect("w1")
	if err := c.Schedule(bg, work, clk.Now().Add(time.Second), queues.Message{ID: "timer"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	publish(t, c, work, "plain")
	b.Tick()
	if got := pendingIDs(b, work); !slices.Equal(got, []string{"plain", "timer"}) {
		t.Errorf("Pending = %v", got)
	}
}
