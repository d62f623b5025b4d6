package membroker

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/warrenhq/warren/queues"
)

func TestDeliveryCarriesTheMessage(t *testing.T) {
	b, _ := newBroker(t, nil)
	c := b.Connect("w1")
	var r recorder
	consume(t, c, ctl0, 1, r.keep)
	publish(t, c, ctl0, "a")
	if !b.Deliver(b.Ready()[0]) {
		t.Fatal("Deliver refused")
	}
	d := r.last()
	if d.ID != "a" || d.Kind != "K" || d.InstanceID != "i-a" || string(d.Body) != "body a" || d.Queue != ctl0 ||
		d.Redelivered || d.DeliveryCount != 1 || !d.Due.IsZero() {
		t.Errorf("delivery %+v", d)
	}
	if b.Unacked() != 1 || len(b.Pending(ctl0)) != 0 || !slices.Equal(idsOf(b.Unsettled(ctl0)), []string{"a"}) {
		t.Errorf("Unacked %d, pending %v, unsettled %v", b.Unacked(), b.Pending(ctl0), b.Unsettled(ctl0))
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	if b.Unacked() != 0 || len(b.Unsettled(ctl0)) != 0 {
		t.Error("acked delivery still unsettled")
	}
	if s := b.Stats(ctl0); s != (Stats{Enqueued: 1, Delivered: 1, Acked: 1}) {
		t.Errorf("Stats = %+v", s)
	}
}

func TestPrefetchBoundsUnsettledDeliveries(t *testing.T) {
	for _, prefetch := range []int{-1, 0, 1, 3} {
		b, _ := newBroker(t, nil)
		c := b.Connect("w1")
		var r recorder
		consume(t, c, work, prefetch, r.keep)
		publish(t, c, work, "a", "b", "c", "d", "e")
		want := max(prefetch, 1)
		if n := drain(b); n != want {
			t.Errorf("prefetch %d: %d delivered before any ack, want %d", prefetch, n, want)
		}
		if err := r.got[0].Ack(); err != nil {
			t.Fatal(err)
		}
		if n := drain(b); n != 1 {
			t.Errorf("prefetch %d: %d delivered after one ack, want 1", prefetch, n)
		}
	}
}

func TestReadyOrder(t *testing.T) {
	b, _ := newBroker(t, nil)
	c1, c2 := b.Connect("w1"), b.Connect("w2")
	nop := func(*queues.Delivery) {}
	consume(t, c2, work, 1, nop)
	consume(t, c1, queues.ControlQueue(hub, 1), 1, nop)
	consume(t, c1, work, 1, nop)
	consume(t, c2, ctl0, 1, nop)
	consume(t, c1, ctl0, 1, nop) // not active: c2 subscribed first
	consume(t, c1, dlq, 1, nop)
	if got := b.Ready(); len(got) != 0 {
		t.Errorf("Ready() with empty queues = %v", got)
	}
	for _, q := range []string{dlq, work, queues.ControlQueue(hub, 1), ctl0} {
		publish(t, c1, q, "m-"+q)
	}
	var got []string
	for _, r := range b.Ready() {
		got = append(got, r.Queue+"@"+r.Conn)
		if r.Consumer.Queue() != r.Queue || r.Consumer.Conn() != r.Conn {
			t.Errorf("Ready %+v does not match its consumer", r)
		}
	}
	want := []string{"sim.control.00@w2", "sim.control.01@w1", "sim.workitems@w2", "sim.workitems@w1", "sim.deadletter@w1"}
	if !slices.Equal(got, want) {
		t.Errorf("Ready() = %v, want %v", got, want)
	}
}

func TestSingleActiveConsumerHandsOver(t *testing.T) {
	b, _ := newBroker(t, nil)
	c1, c2, c3 := b.Connect("w1"), b.Connect("w2"), b.Connect("w3")
	var r1, r2, r3 recorder
	k1 := consume(t, c1, ctl0, 1, r1.keep)
	consume(t, c2, ctl0, 10, r2.keep)
	consume(t, c3, ctl0, 10, r3.keep)
	publish(t, c1, ctl0, "a", "b", "c")

	// The first consumer is full with prefetch 1, yet the others get nothing.
	if n := drain(b); n != 1 || !slices.Equal(r1.ids(), []string{"a"}) {
		t.Fatalf("delivered %d, w1 got %v, want only a to w1", n, r1.ids())
	}
	if err := k1.Cancel(); err != nil {
		t.Fatal(err)
	}
	// w2 takes over, starting with the message w1 left unacked.
	drain(b)
	if !slices.Equal(r2.ids(), []string{"a", "b", "c"}) || len(r3.got) != 0 {
		t.Fatalf("after hand-over w2 got %v and w3 %v, want w2 all of a b c", r2.ids(), r3.ids())
	}
	if d := r2.got[0]; !d.Redelivered || d.DeliveryCount != 2 {
		t.Errorf("handed-over a: redelivered %v count %d, want true 2", d.Redelivered, d.DeliveryCount)
	}
	// A dropped connection hands over too.
	_ = c2.Close()
	drain(b)
	if !slices.Equal(r3.ids(), []string{"a", "b", "c"}) {
		t.Errorf("after w2's connection dropped w3 got %v", r3.ids())
	}
	// A new consumer waits behind the active one.
	var r4 recorder
	consume(t, b.Connect("w4"), ctl0, 10, r4.keep)
	publish(t, c3, ctl0, "d")
	drain(b)
	if len(r4.got) != 0 || r3.last().ID != "d" {
		t.Errorf("a later consumer received %v while w3 is active", r4.ids())
	}
}

func TestCompetingConsumersShareTheWorkItems(t *testing.T) {
	b, _ := newBroker(t, nil)
	c1, c2 := b.Connect("w1"), b.Connect("w2")
	var r1, r2 recorder
	consume(t, c1, work, 2, r1.keep)
	consume(t, c2, work, 2, r2.keep)
	publish(t, c1, work, "a", "b", "c", "d", "e")
	drain(b) // always the first listed: w1 until it is full, then w2
	if !slices.Equal(r1.ids(), []string{"a", "b"}) || !slices.Equal(r2.ids(), []string{"c", "d"}) {
		t.Errorf("w1 got %v, w2 got %v", r1.ids(), r2.ids())
	}
	if got := pendingIDs(b, work); !slices.Equal(got, []string{"e"}) {
		t.Errorf("pending %v, want e", got)
	}
}

func TestDeliverRefusesAStaleReady(t *testing.T) {
	tests := []struct {
		name   string
		change func(b *Broker, c *Conn, k *Consumer)
	}{
		{"queue emptied", func(b *Broker, c *Conn, k *Consumer) { drain(b) }},
		{"consumer cancelled", func(b *Broker, c *Conn, k *Consumer) { _ = k.Cancel() }},
		{"connection closed", func(b *Broker, c *Conn, k *Consumer) { _ = c.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newBroker(t, nil)
			c := b.Connect("w1")
			var r recorder
			k := consume(t, c, work, 5, r.keep)
			publish(t, c, work, "a")
			ready := b.Ready()
			tt.change(b, c, k)
			before := len(r.got)
			if b.Deliver(ready[0]) || len(r.got) != before {
				t.Error("Deliver handed over a message for a Ready that no longer holds")
			}
		})
	}
	b, _ := newBroker(t, nil)
	if b.Deliver(Ready{}) {
		t.Error("Deliver(Ready{}) = true")
	}
	other, _ := newBroker(t, nil)
	k := consume(t, other.Connect("w1"), work, 1, func(*queues.Delivery) {})
	if b.Deliver(Ready{Queue: work, Consumer: k}) {
		t.Error("Deliver took another broker's consumer")
	}
}

// The handler runs without the broker's lock: it may publish, settle, even cancel itself.
func TestHandlerMayCallTheBroker(t *testing.T) {
	b, _ := newBroker(t, nil)
	c := b.Connect("w1")
	var k *Consumer
	k = consume(t, c, ctl0, 1, func(d *queues.Delivery) {
		if err := c.Publish(bg, work, queues.Message{ID: "from-" + d.ID}); err != nil {
			t.Error(err)
		}
		if err := d.Ack(); err != nil {
			t.Error(err)
		}
		_ = b.Ready()
		if d.ID == "b" {
			_ = k.Cancel()
		}
	})
	publish(t, c, ctl0, "a", "b", "c")
	drain(b)
	if got := pendingIDs(b, work); !slices.Equal(got, []string{"from-a", "from-b"}) {
		t.Errorf("work items %v", got)
	}
	if got := pendingIDs(b, ctl0); !slices.Equal(got, []string{"c"}) {
		t.Errorf("control queue %v, want c left after the handler cancelled", got)
	}
}

func TestConsumerStopsWhenItsContextEnds(t *testing.T) {
	b, _ := newBroker(t, nil)
	c := b.Connect("w1")
	ctx, cancel := context.WithCancel(bg)
	var r1, r2 recorder
	k1, err := c.Consume(ctx, ctl0, 1, r1.keep)
	if err != nil {
		t.Fatal(err)
	}
	consume(t, b.Connect("w2"), ctl0, 1, r2.keep)
	publish(t, c, ctl0, "a")
	drain(b)
	cancel()
	if got := b.Ready(); len(got) != 1 || got[0].Conn != "w2" {
		t.Fatalf("Ready() after the active consumer's ctx ended = %v, want w2", got)
	}
	if !k1.Stopped() {
		t.Error("consumer not stopped")
	}
	drain(b)
	if !slices.Equal(r2.ids(), []string{"a"}) || !r2.last().Redelivered {
		t.Errorf("w2 got %v, want a redelivered", r2.ids())
	}
	if err := r1.last().Ack(); !errors.Is(err, ErrConsumerStopped) {
		t.Errorf("Ack after the ctx ended = %v, want ErrConsumerStopped", err)
	}
	if _, err := c.Consume(ctx, work, 1, r1.keep); !errors.Is(err, context.Canceled) {
		t.Errorf("Consume with an ended ctx = %v", err)
	}
}

func TestConsumeUnknownQueue(t *testing.T) {
	b, _ := newBroker(t, nil)
	_, err := b.Connect("w1").Consume(bg, "sim.control.02", 1, func(*queues.Delivery) {})
	if !errors.Is(err, ErrNoSuchQueue) {
		t.Errorf("err = %v, want ErrNoSuchQueue", err)
	}
}
