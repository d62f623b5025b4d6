package queues

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestPublishConsume10000NoneLostNoneDuplicated(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	q := WorkItemQueue(c.cfg.Hub)
	const n = 10000
	col := newCollector()
	// Two competing consumers, as workers share the work-item queue.
	for range 2 {
		k, err := c.Consume(ctx, q, 100, func(d *Delivery) {
			col.add(d)
			if err := d.Ack(); err != nil {
				t.Errorf("Ack: %v", err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Cancel()
	}
	// Four concurrent publishers, in batches of 250.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < n/4; b += 250 {
				msgs := make([]Message, 250)
				for i := range msgs {
					msgs[i] = Message{ID: fmt.Sprintf("m-%d-%d", w, b+i), Body: []byte("x")}
				}
				if err := c.Publish(ctx, q, msgs...); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d distinct messages", n), func() bool { return col.distinct() == n })
	// Give a duplicate the chance to show up before counting.
	time.Sleep(200 * time.Millisecond)
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.msgs) != n {
		t.Errorf("%d deliveries of %d distinct messages: duplicates", len(col.msgs), len(col.seen))
	}
	for w := range 4 {
		for i := range n / 4 {
			if id := fmt.Sprintf("m-%d-%d", w, i); col.seen[id] != 1 {
				t.Fatalf("message %s delivered %d times", id, col.seen[id])
			}
		}
	}
}

func TestPublishUnroutableIsAnError(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Publish(ctx, c.cfg.Hub+".no-such-queue", Message{ID: "a"}, Message{ID: "b"})
	var pe *PublishError
	if !errors.As(err, &pe) || !errors.Is(err, ErrUnroutable) {
		t.Fatalf("Publish to a missing queue = %v, want a *PublishError matching ErrUnroutable", err)
	}
	if len(pe.Unroutable) != 2 || len(pe.Unconfirmed) != 0 {
		t.Errorf("Unroutable = %v, Unconfirmed = %v; want both messages unroutable", pe.Unroutable, pe.Unconfirmed)
	}
	// The channel used for it is still good for the next publish.
	if err := c.Publish(ctx, DeadLetterQueue(c.cfg.Hub), Message{ID: "c"}); err != nil {
		t.Fatalf("Publish after an unroutable one: %v", err)
	}
	if err := c.Schedule(ctx, c.cfg.Hub+".no-such-queue", time.Now().Add(time.Second), Message{ID: "d"}); err == nil {
		t.Fatal("Schedule to a queue outside the hub: no error")
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := ControlQueue(c.cfg.Hub, 0)
	got := make(chan *Delivery, 2)
	k, err := c.Consume(ctx, q, 1, func(d *Delivery) { _ = d.Ack(); got <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	sent := Message{
		ID: "id-1", Kind: "ExecutionStarted", InstanceID: "device-42", Body: []byte(`{"a":1}`),
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TraceState: "congo=t61rcWkgMzE",
		Timestamp: time.Unix(1700000000, 0), PriorDeliveries: 5,
	}
	if err := c.Publish(ctx, q, sent); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, q, Message{Body: []byte("no id")}); err != nil {
		t.Fatal(err)
	}
	var d *Delivery
	select {
	case d = <-got:
	case <-ctx.Done():
		t.Fatal("no delivery")
	}
	m := d.Message
	if m.ID != sent.ID || m.Kind != sent.Kind || m.InstanceID != sent.InstanceID || string(m.Body) != string(sent.Body) ||
		m.TraceParent != sent.TraceParent || m.TraceState != sent.TraceState || !m.Timestamp.Equal(sent.Timestamp) || m.Reason != "" ||
		m.PriorDeliveries != sent.PriorDeliveries {
		t.Errorf("received %+v, sent %+v", m, sent)
	}
	if d.Queue != q || d.Redelivered || d.DeliveryCount != 1 || !d.Due.IsZero() {
		t.Errorf("delivery: queue %q redelivered %v count %d due %v", d.Queue, d.Redelivered, d.DeliveryCount, d.Due)
	}
	select {
	case d = <-got:
		if d.ID == "" {
			t.Error("a message published without an id arrived without one")
		}
	case <-ctx.Done():
		t.Fatal("no second delivery")
	}
}

func TestPublishManyUnroutableInOneBatch(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 5000
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{ID: fmt.Sprintf("u-%d", i)}
	}
	start := time.Now()
	err := c.Publish(ctx, c.cfg.Hub+".no-such-queue", msgs...)
	var pe *PublishError
	if !errors.As(err, &pe) || len(pe.Unroutable) != n || len(pe.Unconfirmed) != 0 {
		t.Fatalf("Publish of %d unroutable messages = %v", n, err)
	}
	t.Logf("%d unroutable messages reported in %v", n, time.Since(start))
}
