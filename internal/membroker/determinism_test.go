package membroker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/warrenhq/warren/queues"
)

// The same calls in the same order give the same results: a random script (publishes with
// faults, deliveries, settles, dropped connections, timers) run twice from one seed leaves
// the same trace, and every message is accounted for at every step.
func TestSameSeedSameRun(t *testing.T) {
	for seed := range uint64(20) {
		a, b := run(t, seed), run(t, seed)
		if !slices.Equal(a, b) {
			t.Fatalf("seed %d: two runs differ\n%v\n%v", seed, a, b)
		}
	}
}

func run(t *testing.T, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	var trace []string
	logf := func(format string, args ...any) { trace = append(trace, fmt.Sprintf(format, args...)) }
	b, clk := newBroker(t, func(o *Options) {
		o.ControlDeliveryLimit = 4
		o.Faults = func(p FaultPoint) Fault {
			switch rng.IntN(20) {
			case 0:
				return Fault{Drop: true}
			case 1:
				return Fault{LoseConfirm: true}
			case 2:
				return Fault{Duplicate: true}
			}
			return Fault{}
		}
	})
	qs := b.Queues()
	var conns []*Conn
	handle := func(d *queues.Delivery) {
		logf("deliver %s %s #%d", d.Queue, d.ID, d.DeliveryCount)
		var err error
		switch rng.IntN(6) {
		case 0:
			err = d.Nack(true)
		case 1:
			err = d.DeadLetter("bad")
		case 2:
			return // settled never, until its connection goes
		default:
			err = d.Ack()
		}
		logf("settle %v", err)
	}
	connect := func() {
		c := b.Connect(fmt.Sprintf("c%d", len(conns)))
		conns = append(conns, c)
		for _, q := range qs {
			if _, err := c.Consume(bg, q, 1+rng.IntN(3), handle); err != nil {
				t.Fatal(err)
			}
		}
	}
	connect()
	published := 0
	for step := range 400 {
		c := conns[rng.IntN(len(conns))]
		switch rng.IntN(8) {
		case 0, 1:
			published++
			err := c.Publish(bg, qs[rng.IntN(len(qs))], queues.Message{ID: fmt.Sprintf("m%d", published)})
			logf("publish %v", err)
		case 2:
			published++
			err := c.Schedule(bg, qs[rng.IntN(len(qs))], clk.Now().Add(time.Duration(rng.IntN(5))*time.Second), queues.Message{ID: fmt.Sprintf("m%d", published)})
			logf("schedule %v", err)
		case 3:
			if rng.IntN(4) == 0 {
				_ = c.Close()
				logf("close %s", c.Name())
				connect()
			}
		case 4:
			clk.Advance(time.Second)
			logf("tick %d", b.Tick())
		default:
			if r := b.Ready(); len(r) > 0 {
				b.Deliver(r[rng.IntN(len(r))])
			}
		}
		checkAccounting(t, b, step)
	}
	for _, q := range qs {
		logf("%s pending %v stats %+v", q, pendingIDs(b, q), b.Stats(q))
	}
	logf("dead %v discarded %v", idsOf(b.DeadLetters()), idsOf(b.Discarded()))
	return trace
}

// checkAccounting: every delivery of a queue is acked, returned, dead-lettered, discarded
// or still unsettled; every message that entered is pending, or was delivered and left.
func checkAccounting(t *testing.T, b *Broker, step int) {
	t.Helper()
	unsettled := 0
	for _, q := range b.Queues() {
		s := b.Stats(q)
		u := len(b.Unsettled(q))
		unsettled += u
		if s.Delivered != s.Acked+s.Returned+s.DeadLettered+s.Discarded+u {
			t.Fatalf("step %d: %s: %+v with %d unsettled does not add up", step, q, s, u)
		}
		b.mu.Lock()
		queued := len(b.queues[q].items) // Pending counts the timers too
		b.mu.Unlock()
		if s.Enqueued+s.Returned != s.Delivered+queued {
			t.Fatalf("step %d: %s: %+v with %d queued does not add up", step, q, s, queued)
		}
	}
	if unsettled != b.Unacked() {
		t.Fatalf("step %d: Unacked() = %d, queues hold %d", step, b.Unacked(), unsettled)
	}
}
