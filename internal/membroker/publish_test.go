package membroker

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/queues"
)

func TestNewDeclaresTheHub(t *testing.T) {
	b, _ := newBroker(t, nil)
	want := []string{"sim.control.00", "sim.control.01", "sim.workitems", "sim.deadletter"}
	if got := b.Queues(); !slices.Equal(got, want) {
		t.Errorf("Queues() = %v, want %v", got, want)
	}
	if got := New(Options{}).Queues(); len(got) != queues.DefaultPartitions+2 || got[0] != "warren.control.00" {
		t.Errorf("default hub: %v", got)
	}
}

func TestPublishKeepsOrderAndFields(t *testing.T) {
	b, clk := newBroker(t, nil)
	c := b.Connect("w1")
	stamped := time.Date(2025, 5, 5, 0, 0, 0, 0, time.UTC)
	in := []queues.Message{
		{ID: "a", Kind: "ActivityRequest", InstanceID: "i-1", Body: []byte("x"), TraceParent: "tp", TraceState: "ts", Timestamp: stamped},
		{Kind: "NoID"},
	}
	if err := c.Publish(bg, work, in...); err != nil {
		t.Fatal(err)
	}
	got := b.Pending(work)
	if len(got) != 2 {
		t.Fatalf("Pending = %v", got)
	}
	if got[0].ID != "a" || got[0].Kind != "ActivityRequest" || got[0].InstanceID != "i-1" || string(got[0].Body) != "x" ||
		got[0].TraceParent != "tp" || got[0].TraceState != "ts" || !got[0].Timestamp.Equal(stamped) {
		t.Errorf("first message changed: %+v", got[0])
	}
	if got[1].ID == "" || !got[1].Timestamp.Equal(clk.Now()) {
		t.Errorf("a message without ID or Timestamp got %q %v, want an id and the clock's time", got[1].ID, got[1].Timestamp)
	}
	if in[1].ID != "" {
		t.Error("Publish changed the caller's slice")
	}
	if s := b.Stats(work); s.Enqueued != 2 {
		t.Errorf("Stats = %+v, want 2 enqueued", s)
	}
}

func TestPublishRefusals(t *testing.T) {
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	tests := []struct {
		name      string
		queue     string
		ctx       context.Context
		close     bool
		wantIs    []error
		wantIndex func(*queues.PublishError) []int
	}{
		{name: "unroutable", queue: "sim.nope", ctx: bg, wantIs: []error{queues.ErrUnroutable, ErrNoSuchQueue},
			wantIndex: func(e *queues.PublishError) []int { return e.Unroutable }},
		{name: "other hub", queue: queues.WorkItemQueue("warren"), ctx: bg, wantIs: []error{queues.ErrUnroutable},
			wantIndex: func(e *queues.PublishError) []int { return e.Unroutable }},
		{name: "closed connection", queue: work, ctx: bg, close: true, wantIs: []error{queues.ErrUnconfirmed, ErrClosed},
			wantIndex: func(e *queues.PublishError) []int { return e.Unconfirmed }},
		{name: "ended ctx", queue: work, ctx: cancelled, wantIs: []error{queues.ErrUnconfirmed, context.Canceled},
			wantIndex: func(e *queues.PublishError) []int { return e.Unconfirmed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newBroker(t, nil)
			c := b.Connect("w1")
			if tt.close {
				_ = c.Close()
			}
			msgs := []queues.Message{{ID: "a"}, {ID: "b"}}
			for _, err := range []error{
				c.Publish(tt.ctx, tt.queue, msgs...),
				c.Schedule(tt.ctx, tt.queue, clk.Now().Add(time.Minute), msgs...),
			} {
				var perr *queues.PublishError
				if !errors.As(err, &perr) {
					t.Fatalf("err = %v, want a *queues.PublishError", err)
				}
				for _, target := range tt.wantIs {
					if !errors.Is(err, target) {
						t.Errorf("err = %v, want errors.Is %v", err, target)
					}
				}
				if idx := tt.wantIndex(perr); !slices.Equal(idx, []int{0, 1}) {
					t.Errorf("indexes %v, want both messages", idx)
				}
			}
			for _, q := range b.Queues() {
				if n := len(b.Pending(q)); n != 0 {
					t.Errorf("%d messages pending on %s after a refused publish", n, q)
				}
			}
			if b.Scheduled() != 0 {
				t.Error("a refused schedule holds a message")
			}
		})
	}
}

func TestPublishFaults(t *testing.T) {
	tests := []struct {
		name            string
		fault           Fault
		wantPending     []string
		wantUnconfirmed []int
	}{
		{name: "none", wantPending: []string{"a", "b", "c"}},
		{name: "drop", fault: Fault{Drop: true}, wantPending: []string{"a", "c"}, wantUnconfirmed: []int{1}},
		{name: "drop wins", fault: Fault{Drop: true, Duplicate: true, LoseConfirm: true}, wantPending: []string{"a", "c"}, wantUnconfirmed: []int{1}},
		{name: "lose confirm", fault: Fault{LoseConfirm: true}, wantPending: []string{"a", "b", "c"}, wantUnconfirmed: []int{1}},
		{name: "duplicate", fault: Fault{Duplicate: true}, wantPending: []string{"a", "b", "b", "c"}},
		{name: "duplicate and lose confirm", fault: Fault{Duplicate: true, LoseConfirm: true}, wantPending: []string{"a", "b", "b", "c"}, wantUnconfirmed: []int{1}},
	}
	for _, tt := range tests {
		for _, op := range []string{"publish", "schedule"} {
			t.Run(tt.name+"/"+op, func(t *testing.T) {
				var asked []FaultPoint
				b, clk := newBroker(t, func(o *Options) {
					o.Faults = func(p FaultPoint) Fault {
						asked = append(asked, p)
						if p.MessageID == "b" {
							return tt.fault
						}
						return Fault{}
					}
				})
				c := b.Connect("w1")
				msgs := []queues.Message{{ID: "a"}, {ID: "b"}, {ID: "c"}}
				var err error
				if op == "publish" {
					err = c.Publish(bg, work, msgs...)
				} else {
					err = c.Schedule(bg, work, clk.Now().Add(time.Second), msgs...)
					if n := b.Scheduled(); n != len(tt.wantPending) {
						t.Errorf("Scheduled() = %d, want %d", n, len(tt.wantPending))
					}
					clk.Advance(time.Second)
					b.Tick()
				}
				if got := pendingIDs(b, work); !slices.Equal(got, tt.wantPending) {
					t.Errorf("pending %v, want %v", got, tt.wantPending)
				}
				wantAsked := []FaultPoint{{op, work, "a", "w1"}, {op, work, "b", "w1"}, {op, work, "c", "w1"}}
				if !slices.Equal(asked, wantAsked) {
					t.Errorf("Faults asked %v, want %v", asked, wantAsked)
				}
				if tt.wantUnconfirmed == nil {
					if err != nil {
						t.Fatalf("err = %v, want nil", err)
					}
					return
				}
				var perr *queues.PublishError
				if !errors.As(err, &perr) || !errors.Is(err, queues.ErrUnconfirmed) || !errors.Is(err, ErrFault) {
					t.Fatalf("err = %v, want an unconfirmed *queues.PublishError from a fault", err)
				}
				if !slices.Equal(perr.Unconfirmed, tt.wantUnconfirmed) || len(perr.Unroutable) != 0 {
					t.Errorf("unconfirmed %v unroutable %v, want %v", perr.Unconfirmed, perr.Unroutable, tt.wantUnconfirmed)
				}
			})
		}
	}
}

// The fault function may call the broker: it runs without the broker's lock.
func TestFaultsMayCallTheBroker(t *testing.T) {
	var b *Broker
	b, _ = newBroker(t, func(o *Options) {
		o.Faults = func(p FaultPoint) Fault {
			_ = b.Pending(p.Queue)
			return Fault{}
		}
	})
	publish(t, b.Connect("w1"), work, "a")
}

func TestAnnounceIsRecorded(t *testing.T) {
	b, _ := newBroker(t, nil)
	c := b.Connect("w1")
	if err := c.Announce(bg, queues.Message{ID: "ended-1", InstanceID: "i-1"}); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if err := c.Announce(bg, queues.Message{ID: "ended-2"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Announce after Close: %v, want ErrClosed", err)
	}
	if got := b.Announced(); len(got) != 1 || got[0].ID != "ended-1" || got[0].InstanceID != "i-1" {
		t.Errorf("Announced() = %+v", got)
	}
}
