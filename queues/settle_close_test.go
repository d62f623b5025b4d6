package queues

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// Deliveries settled from another goroutine while their consumer is cancelled cost nothing
// but themselves: an ack that reached the broker after the channel's close would be a
// connection error there (504 CHANNEL_ERROR - expected 'channel.open'), dropping every
// consumer and publisher of the connection. A worker's episode loop acks this way while
// the worker hands a partition over.
func TestSettlingWhileTheConsumerIsCancelledKeepsTheConnection(t *testing.T) {
	c := newHub(t, nil)
	ctx := context.Background()
	q := ControlQueue(c.cfg.Hub, 0)
	for round := range 10 {
		msgs := make([]Message, 500)
		for i := range msgs {
			msgs[i] = Message{ID: fmt.Sprintf("r%d-%d", round, i), Body: []byte("x")}
		}
		if err := c.Publish(ctx, q, msgs...); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		gen := c.gen
		c.mu.Unlock()

		got := make(chan *Delivery, len(msgs)*(round+1))
		k, err := c.Consume(ctx, q, 100, func(d *Delivery) { got <- d })
		if err != nil {
			t.Fatal(err)
		}
		stop, acked := make(chan struct{}), make(chan struct{})
		var n atomic.Int64
		go func() {
			defer close(acked)
			for {
				select {
				case d := <-got:
					time.Sleep(50 * time.Microsecond) // a batch's work between acks
					_ = d.Ack()
					n.Add(1)
				case <-stop:
					return
				}
			}
		}()
		waitFor(t, 10*time.Second, "acks under way", func() bool { return n.Load() >= int64(10+round*20) })
		_ = k.Cancel()
		close(stop)
		<-acked

		// The broker answers in order: once a question asked after the cancel is answered,
		// a connection error caused by an ack before it has arrived too.
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("round %d: ping after the cancel: %v", round, err)
		}
		c.mu.Lock()
		now, cur := c.gen, c.cur
		c.mu.Unlock()
		if now != gen || cur == nil || cur.IsClosed() {
			t.Fatalf("round %d: the connection was lost while the consumer was cancelled (generation %d, now %d)", round, gen, now)
		}
	}
}
