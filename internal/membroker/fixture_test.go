package membroker

import (
	"context"
	"testing"
	"time"

	"github.com/warrenhq/warren/queues"
)

const hub = "sim"

var (
	ctl0 = queues.ControlQueue(hub, 0)
	work = queues.WorkItemQueue(hub)
	dlq  = queues.DeadLetterQueue(hub)
	bg   = context.Background()
)

// clock is a virtual clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// newBroker returns a broker over a hub of 2 partitions, a clock, and opts changed by edit.
func newBroker(t *testing.T, edit func(*Options)) (*Broker, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts := Options{Hub: hub, Partitions: 2, Now: clk.Now}
	if edit != nil {
		edit(&opts)
	}
	return New(opts), clk
}

// recorder keeps the deliveries a consumer received.
type recorder struct{ got []*queues.Delivery }

func (r *recorder) keep(d *queues.Delivery) { r.got = append(r.got, d) }

// ids lists the message ids of the deliveries.
func (r *recorder) ids() []string {
	out := make([]string, len(r.got))
	for i, d := range r.got {
		out[i] = d.ID
	}
	return out
}

func (r *recorder) last() *queues.Delivery { return r.got[len(r.got)-1] }

// consume subscribes or fails the test.
func consume(t *testing.T, c *Conn, queue string, prefetch int, handle func(*queues.Delivery)) *Consumer {
	t.Helper()
	k, err := c.Consume(bg, queue, prefetch, handle)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// publish publishes messages with the given ids or fails the test.
func publish(t *testing.T, c *Conn, queue string, ids ...string) {
	t.Helper()
	msgs := make([]queues.Message, len(ids))
	for i, id := range ids {
		msgs[i] = queues.Message{ID: id, Kind: "K", InstanceID: "i-" + id, Body: []byte("body " + id)}
	}
	if err := c.Publish(bg, queue, msgs...); err != nil {
		t.Fatal(err)
	}
}

// drain delivers the first ready message until none is ready, and returns how many.
func drain(b *Broker) int {
	n := 0
	for r := b.Ready(); len(r) > 0; r = b.Ready() {
		if !b.Deliver(r[0]) {
			panic("a listed Ready was refused")
		}
		n++
	}
	return n
}

// pendingIDs lists the ids Pending returns for queue.
func pendingIDs(b *Broker, queue string) []string { return idsOf(b.Pending(queue)) }

func idsOf(msgs []queues.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}
