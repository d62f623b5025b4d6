package membroker

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/warrenhq/warren/queues"
)

func TestNackRequeuesAtTheHead(t *testing.T) {
	b, _ := newBroker(t, nil)
	c := b.Connect("w1")
	var r recorder
	consume(t, c, ctl0, 1, r.keep)
	publish(t, c, ctl0, "a", "b")
	for want := 1; want <= 3; want++ {
		b.Deliver(b.Ready()[0])
		d := r.last()
		if d.ID != "a" || d.DeliveryCount != want || d.Redelivered != (want > 1) {
			t.Fatalf("delivery %d: %s count %d redelivered %v", want, d.ID, d.DeliveryCount, d.Redelivered)
		}
		if err := d.Nack(true); err != nil {
			t.Fatal(err)
		}
		if got := pendingIDs(b, ctl0); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("after nack: %v, want a back at the head", got)
		}
	}
	if s := b.Stats(ctl0); s.Returned != 3 || s.Delivered != 3 || s.DeadLettered != 0 {
		t.Errorf("Stats = %+v", s) // control queues have no delivery limit by default
	}
}

func TestDeliveryLimitDeadLetters(t *testing.T) {
	tests := []struct {
		name     string
		opts     func(*Options)
		queue    string
		wantSeen int // deliveries before the message is dead-lettered; 0: never
	}{
		{name: "work items default", queue: work, wantSeen: queues.DefaultDeliveryLimit + 1},
		{name: "work items 1", opts: func(o *Options) { o.WorkItemDeliveryLimit = 1 }, queue: work, wantSeen: 2},
		{name: "work items unlimited", opts: func(o *Options) { o.WorkItemDeliveryLimit = -1 }, queue: work},
		{name: "control default", queue: ctl0},
		{name: "control 3", opts: func(o *Options) { o.ControlDeliveryLimit = 3 }, queue: ctl0, wantSeen: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newBroker(t, tt.opts)
			c := b.Connect("w1")
			var counts []int
			consume(t, c, tt.queue, 1, func(d *queues.Delivery) {
				counts = append(counts, d.DeliveryCount)
				_ = d.Nack(true) // the handler fails every time
			})
			publish(t, c, tt.queue, "poison")
			for range 20 {
				if r := b.Ready(); len(r) > 0 {
					b.Deliver(r[0])
				}
			}
			dead := b.DeadLetters()
			if tt.wantSeen == 0 {
				if len(counts) != 20 || len(dead) != 0 {
					t.Errorf("%d deliveries, dead letters %v; want no limit", len(counts), dead)
				}
				return
			}
			if len(counts) != tt.wantSeen || counts[0] != 1 || counts[len(counts)-1] != tt.wantSeen {
				t.Errorf("delivery counts %v, want 1..%d", counts, tt.wantSeen)
			}
			want := "dead-lettered by the broker from " + tt.queue + ": delivery_limit"
			if len(dead) != 1 || dead[0].ID != "poison" || dead[0].Reason != want || string(dead[0].Body) != "body poison" {
				t.Errorf("dead letters %+v, want poison with reason %q", dead, want)
			}
			if got := pendingIDs(b, dlq); !slices.Equal(got, []string{"poison"}) {
				t.Errorf("dead-letter queue holds %v", got)
			}
			if s := b.Stats(tt.queue); s.DeadLettered != 1 || s.Returned != tt.wantSeen-1 {
				t.Errorf("Stats = %+v", s)
			}
		})
	}
}

// A delivery returned because its consumer stopped counts toward the limit too.
func TestDeliveryLimitCountsDroppedConsumers(t *testing.T) {
	b, _ := newBroker(t, func(o *Options) { o.WorkItemDeliveryLimit = 2 })
	publish(t, b.Connect("publisher"), work, "a")
	for i := range 3 {
		c := b.Connect("w")
		consume(t, c, work, 1, func(*queues.Delivery) {})
		if n := drain(b); n != 1 {
			t.Fatalf("round %d: %d delivered", i, n)
		}
		_ = c.Close()
	}
	if dead := b.DeadLetters(); len(dead) != 1 || dead[0].ID != "a" {
		t.Errorf("dead letters %v, want a after 3 deliveries with limit 2", dead)
	}
}

func TestNackWithoutRequeueAndDeadLetter(t *testing.T) {
	tests := []struct {
		name       string
		queue      string
		reason     string // set on the message before publishing
		settle     func(*queues.Delivery) error
		wantReason string
	}{
		{name: "nack work item", queue: work, settle: func(d *queues.Delivery) error { return d.Nack(false) },
			wantReason: "dead-lettered by the broker from sim.workitems: rejected"},
		{name: "nack keeps a reason", queue: work, reason: "earlier", settle: func(d *queues.Delivery) error { return d.Nack(false) },
			wantReason: "earlier"},
		{name: "nack control", queue: ctl0, settle: func(d *queues.Delivery) error { return d.Nack(false) },
			wantReason: "dead-lettered by the broker from sim.control.00: rejected"},
		{name: "dead-letter control", queue: ctl0, settle: func(d *queues.Delivery) error { return d.DeadLetter("undecodable") },
			wantReason: "undecodable"},
		{name: "dead-letter replaces a reason", queue: work, reason: "earlier", settle: func(d *queues.Delivery) error { return d.DeadLetter("later") },
			wantReason: "later"},
		{name: "dead-letter from the dead-letter queue", queue: dlq, settle: func(d *queues.Delivery) error { return d.DeadLetter("again") },
			wantReason: "again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newBroker(t, nil)
			c := b.Connect("w1")
			var r recorder
			consume(t, c, tt.queue, 1, r.keep)
			if err := c.Publish(bg, tt.queue, queues.Message{ID: "m", InstanceID: "i-1", Body: []byte("x"), Reason: tt.reason}); err != nil {
				t.Fatal(err)
			}
			b.Deliver(b.Ready()[0])
			if err := tt.settle(r.last()); err != nil {
				t.Fatal(err)
			}
			dead := b.DeadLetters()
			if len(dead) != 1 || dead[0].ID != "m" || dead[0].InstanceID != "i-1" || string(dead[0].Body) != "x" || dead[0].Reason != tt.wantReason {
				t.Fatalf("dead letters %+v, want m with reason %q", dead, tt.wantReason)
			}
			if b.Unacked() != 0 || b.Stats(tt.queue).DeadLettered != 1 {
				t.Errorf("unacked %d, stats %+v", b.Unacked(), b.Stats(tt.queue))
			}
			if tt.queue != dlq && len(b.Pending(tt.queue)) != 0 {
				t.Errorf("%s still holds %v", tt.queue, pendingIDs(b, tt.queue))
			}
			if got := pendingIDs(b, dlq); !slices.Equal(got, []string{"m"}) {
				t.Errorf("dead-letter queue holds %v", got)
			}
		})
	}
}

// The dead-letter queue has no dead-letter exchange: what the broker rejects there is gone.
func TestNackOnTheDeadLetterQueueDiscards(t *testing.T) {
	b, _ := newBroker(t, nil)
	c := b.Connect("w1")
	var r recorder
	consume(t, c, dlq, 1, r.keep)
	publish(t, c, dlq, "m")
	b.Deliver(b.Ready()[0])
	if err := r.last().Nack(false); err != nil {
		t.Fatal(err)
	}
	if got := b.Discarded(); len(got) != 1 || got[0].ID != "m" || got[0].Reason != "dead-lettered by the broker from sim.deadletter: rejected" {
		t.Errorf("Discarded() = %+v", got)
	}
	if len(b.Pending(dlq)) != 0 || len(b.DeadLetters()) != 0 || b.Stats(dlq).Discarded != 1 {
		t.Errorf("pending %v dead letters %v stats %+v", b.Pending(dlq), b.DeadLetters(), b.Stats(dlq))
	}
}

func TestSettleTwiceOrTooLate(t *testing.T) {
	settlers := map[string]func(*queues.Delivery) error{
		"ack":         func(d *queues.Delivery) error { return d.Ack() },
		"nack":        func(d *queues.Delivery) error { return d.Nack(true) },
		"drop":        func(d *queues.Delivery) error { return d.Nack(false) },
		"dead-letter": func(d *queues.Delivery) error { return d.DeadLetter("why") },
	}
	cases := []struct {
		name    string
		first   func(d *queues.Delivery, c *Conn, k *Consumer)
		wantErr error
	}{
		{"settled", func(d *queues.Delivery, c *Conn, k *Consumer) { _ = d.Ack() }, ErrAlreadySettled},
		{"cancelled", func(d *queues.Delivery, c *Conn, k *Consumer) { _ = k.Cancel() }, ErrConsumerStopped},
		{"closed", func(d *queues.Delivery, c *Conn, k *Consumer) { _ = c.Close() }, ErrClosed},
	}
	for _, tc := range cases {
		for name, settle := range settlers {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				b, _ := newBroker(t, nil)
				c := b.Connect("w1")
				var r recorder
				k := consume(t, c, work, 1, r.keep)
				publish(t, c, work, "a")
				b.Deliver(b.Ready()[0])
				tc.first(r.last(), c, k)
				before := b.Stats(work)
				pending, dead := pendingIDs(b, work), len(b.DeadLetters())
				if err := settle(r.last()); !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
				if b.Stats(work) != before || !slices.Equal(pendingIDs(b, work), pending) || len(b.DeadLetters()) != dead || b.Unacked() != 0 {
					t.Error("a refused settle changed the broker")
				}
			})
		}
	}
}

// Messages nacked one after the other come back in the order they were nacked, ahead of
// the messages never delivered, as RabbitMQ's quorum queues deliver their returns.
func TestNacksComeBackInOrder(t *testing.T) {
	b, _ := newBroker(t, nil)
	c := b.Connect("c")
	var r recorder
	consume(t, c, ctl0, 2, r.keep)
	publish(t, c, ctl0, "a", "b", "c")
	drain(b)
	if got := r.ids(); len(got) != 2 {
		t.Fatalf("delivered %v, want the prefetch of 2", got)
	}
	first, second := r.got[0], r.got[1]
	r.got = nil
	if err := first.Nack(true); err != nil {
		t.Fatal(err)
	}
	if err := second.Nack(true); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		drain(b)
		for _, d := range r.got[len(r.got)-min(len(r.got), 2):] {
			_ = d.Ack()
		}
	}
	if got := strings.Join(r.ids(), ","); got != "a,b,c" {
		t.Fatalf("delivered %s after the nacks, want a,b,c", got)
	}
}

// An ack the fault hook loses succeeds for the consumer, and the broker delivers the
// message again, redelivered, as RabbitMQ does when the channel dies before the ack
// reaches it.
func TestLostAckRedelivers(t *testing.T) {
	var asked []FaultPoint
	b, _ := newBroker(t, func(o *Options) {
		o.Faults = func(p FaultPoint) Fault {
			if p.Op == "ack" {
				asked = append(asked, p)
				return Fault{LoseAck: p.MessageID == "a" && len(asked) == 1}
			}
			return Fault{}
		}
	})
	c := b.Connect("w1")
	var r recorder
	consume(t, c, ctl0, 2, r.keep)
	publish(t, c, ctl0, "a", "b")
	b.Deliver(b.Ready()[0])
	if err := r.last().Ack(); err != nil {
		t.Fatalf("a lost ack is an ack to its consumer: %v", err)
	}
	if got := pendingIDs(b, ctl0); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after the lost ack: %v, want a back at the head", got)
	}
	b.Deliver(b.Ready()[0])
	if d := r.last(); d.ID != "a" || !d.Redelivered || d.DeliveryCount != 2 {
		t.Fatalf("next delivery %s redelivered %v count %d, want a again", d.ID, d.Redelivered, d.DeliveryCount)
	}
	if err := r.last().Ack(); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(b, ctl0); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after the second ack: %v, want only b", got)
	}
	if s := b.Stats(ctl0); s.Acked != 1 || s.Returned != 1 {
		t.Errorf("Stats = %+v, want one ack and one return", s)
	}
	want := FaultPoint{Op: "ack", Queue: ctl0, MessageID: "a", Conn: "w1"}
	if len(asked) != 2 || asked[0] != want || asked[1] != want {
		t.Errorf("asked %+v, want the ack of a twice at %+v", asked, want)
	}
}
