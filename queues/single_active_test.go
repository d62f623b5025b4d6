package queues

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestControlQueueHasOneActiveConsumer(t *testing.T) {
	c := newHub(t, func(cfg *Config) { cfg.Partitions = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := ControlQueue(c.cfg.Hub, 0)
	var first, second atomic.Int64
	k1, err := c.Consume(ctx, q, 10, func(d *Delivery) { first.Add(1); _ = d.Ack() })
	if err != nil {
		t.Fatal(err)
	}
	defer k1.Cancel()
	k2, err := c.Consume(ctx, q, 10, func(d *Delivery) { second.Add(1); _ = d.Ack() })
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Cancel()
	publish := func(from int) {
		msgs := make([]Message, 50)
		for i := range msgs {
			msgs[i] = Message{ID: fmt.Sprintf("m-%d", from+i)}
		}
		if err := c.Publish(ctx, q, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	publish(0)
	waitFor(t, 10*time.Second, "50 messages", func() bool { return first.Load()+second.Load() == 50 })
	if first.Load() != 50 || second.Load() != 0 {
		t.Fatalf("first consumer got %d, second %d: want all on the first (single active consumer)", first.Load(), second.Load())
	}
	// When the active consumer stops, the waiting one takes over.
	if err := k1.Cancel(); err != nil {
		t.Fatal(err)
	}
	publish(50)
	waitFor(t, 10*time.Second, "the second consumer to take over", func() bool { return second.Load() == 50 })
	if first.Load() != 50 {
		t.Errorf("the cancelled consumer got %d more", first.Load()-50)
	}
}
