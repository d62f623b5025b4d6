package membroker

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/queues"
)

func TestCloseReturnsUnsettledDeliveries(t *testing.T) {
	b, clk := newBroker(t, nil)
	c := b.Connect("w1")
	var rc, rw recorder
	consume(t, c, ctl0, 3, rc.keep)
	consume(t, c, work, 3, rw.keep)
	publisher := b.Connect("publisher")
	publish(t, publisher, ctl0, "a", "b", "c", "d")
	publish(t, publisher, work, "x", "y")
	drain(b)
	if err := rc.got[1].Ack(); err != nil { // b is done; a and c are not
		t.Fatal(err)
	}
	if b.Unacked() != 4 {
		t.Fatalf("Unacked() = %d, want 4", b.Unacked())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if b.Unacked() != 0 {
		t.Errorf("Unacked() = %d after Close", b.Unacked())
	}
	if got := pendingIDs(b, ctl0); !slices.Equal(got, []string{"a", "c", "d"}) {
		t.Errorf("control queue %v, want the unacked a c back at the head, in order, before d", got)
	}
	if got := pendingIDs(b, work); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("work items %v", got)
	}
	if s := b.Stats(ctl0); s.Returned != 2 || s.Acked != 1 {
		t.Errorf("Stats = %+v", s)
	}

	var r2 recorder
	consume(t, b.Connect("w2"), ctl0, 10, r2.keep)
	drain(b)
	var counts []int
	for _, d := range r2.got {
		counts = append(counts, d.DeliveryCount)
		if d.Redelivered != (d.ID != "d") {
			t.Errorf("%s redelivered = %v", d.ID, d.Redelivered)
		}
	}
	if !slices.Equal(r2.ids(), []string{"a", "c", "d"}) || !slices.Equal(counts, []int{2, 2, 1}) {
		t.Errorf("w2 got %v with counts %v", r2.ids(), counts)
	}

	// Everything through the closed connection fails.
	msg := queues.Message{ID: "late"}
	for name, err := range map[string]error{
		"Publish":  c.Publish(bg, work, msg),
		"Schedule": c.Schedule(bg, work, clk.Now().Add(time.Hour), msg),
		"Announce": c.Announce(bg, msg),
	} {
		if !errors.Is(err, ErrClosed) || !errors.Is(err, queues.ErrUnconfirmed) {
			t.Errorf("%s after Close: %v, want ErrClosed and unconfirmed", name, err)
		}
	}
	if _, err := c.Consume(bg, work, 1, rw.keep); !errors.Is(err, ErrClosed) {
		t.Errorf("Consume after Close: %v", err)
	}
	if slices.Contains(pendingIDs(b, work), "late") || b.Scheduled() != 0 {
		t.Error("a closed connection published")
	}
}

// Closing one connection leaves the others' consumers alone.
func TestCloseIsPerConnection(t *testing.T) {
	b, _ := newBroker(t, nil)
	c1, c2 := b.Connect("w1"), b.Connect("w2")
	var r1, r2 recorder
	k1 := consume(t, c1, work, 1, r1.keep)
	k2 := consume(t, c2, work, 1, r2.keep)
	publish(t, c1, work, "a", "b")
	drain(b)
	_ = c1.Close()
	if !k1.Stopped() || k2.Stopped() {
		t.Errorf("stopped: w1 %v, w2 %v", k1.Stopped(), k2.Stopped())
	}
	if err := r2.last().Ack(); err != nil {
		t.Errorf("w2's ack after w1 closed: %v", err)
	}
	drain(b)
	if !slices.Equal(r2.ids(), []string{"b", "a"}) {
		t.Errorf("w2 got %v, want b then a", r2.ids())
	}
}

// Cancel gives back what it held, oldest first, and leaves the connection usable.
func TestCancelReturnsUnsettledDeliveries(t *testing.T) {
	b, _ := newBroker(t, nil)
	c := b.Connect("w1")
	var r recorder
	k := consume(t, c, work, 3, r.keep)
	publish(t, c, work, "a", "b", "c", "d")
	drain(b)
	if err := k.Cancel(); err != nil {
		t.Fatal(err)
	}
	if err := k.Cancel(); err != nil {
		t.Errorf("second Cancel: %v", err)
	}
	if got := pendingIDs(b, work); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("work items %v", got)
	}
	publish(t, c, work, "e")
	var r2 recorder
	consume(t, c, work, 10, r2.keep)
	drain(b)
	if !slices.Equal(r2.ids(), []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("new consumer got %v", r2.ids())
	}
}
