package queues

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoisonMessageGoesToDeadLetterQueueAfterDeliveryLimit(t *testing.T) {
	c := newHub(t, func(cfg *Config) { cfg.DeliveryLimit = 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var counts []int
	k, err := c.Consume(ctx, WorkItemQueue(c.cfg.Hub), 1, func(d *Delivery) {
		mu.Lock()
		counts = append(counts, d.DeliveryCount)
		mu.Unlock()
		_ = d.Nack(true) // the handler fails every time
	})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	dead := make(chan *Delivery, 1)
	kd, err := c.Consume(ctx, DeadLetterQueue(c.cfg.Hub), 1, func(d *Delivery) { _ = d.Ack(); dead <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer kd.Cancel()
	if err := c.Publish(ctx, WorkItemQueue(c.cfg.Hub), Message{ID: "poison", Kind: "ActivityRequest", Body: []byte("boom")}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-dead:
		if d.ID != "poison" || string(d.Body) != "boom" {
			t.Errorf("dead-lettered %q %q, want the poison message", d.ID, d.Body)
		}
		if !strings.Contains(d.Reason, "delivery_limit") || !strings.Contains(d.Reason, WorkItemQueue(c.cfg.Hub)) {
			t.Errorf("Reason = %q, want the delivery limit and the source queue", d.Reason)
		}
		if d.SourceQueue != WorkItemQueue(c.cfg.Hub) {
			t.Errorf("SourceQueue = %q, want the work-item queue (from x-death)", d.SourceQueue)
		}
		t.Logf("reason: %s", d.Reason)
	case <-ctx.Done():
		t.Fatal("the poison message never reached the dead-letter queue")
	}
	mu.Lock()
	defer mu.Unlock()
	// The broker delivers it the first time plus DeliveryLimit redeliveries.
	if len(counts) != c.cfg.DeliveryLimit+1 || counts[0] != 1 || counts[len(counts)-1] != len(counts) {
		t.Errorf("delivery counts seen by the handler: %v (limit %d)", counts, c.cfg.DeliveryLimit)
	}
}

func TestDeadLetterCarriesReasonAndSource(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := ControlQueue(c.cfg.Hub, 1)
	k, err := c.Consume(ctx, q, 1, func(d *Delivery) {
		if err := d.DeadLetter("undecodable control message: unexpected EOF"); err != nil {
			t.Errorf("DeadLetter: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	dead := make(chan *Delivery, 1)
	kd, err := c.Consume(ctx, DeadLetterQueue(c.cfg.Hub), 1, func(d *Delivery) { _ = d.Ack(); dead <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer kd.Cancel()
	if err := c.Publish(ctx, q, Message{ID: "bad", InstanceID: "i-1", Body: []byte("{")}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-dead:
		if d.ID != "bad" || d.InstanceID != "i-1" || d.Reason != "undecodable control message: unexpected EOF" {
			t.Errorf("dead letter %+v", d.Message)
		}
		if src := headerString(d.settler.(*amqpSettler).raw.Headers, headerSourceQueue); src != q {
			t.Errorf("source queue header %q, want %q", src, q)
		}
		if d.SourceQueue != q {
			t.Errorf("SourceQueue = %q, want %q", d.SourceQueue, q)
		}
	case <-ctx.Done():
		t.Fatal("nothing reached the dead-letter queue")
	}
	// It was acked on its queue: after the consumer stops nothing goes back there.
	_ = k.Cancel()
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if n := queueDepth(t, c, q); n != 0 {
			t.Fatalf("%d messages back in %s after DeadLetter", n, q)
		}
	}
}

// queueDepth is the number of ready messages in q.
func queueDepth(t testing.TB, c *Conn, q string) int {
	t.Helper()
	conn, err := c.connection(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st.Messages
}

// A control message that keeps failing ends in the dead-letter queue too, once it passed
// the control queues' own, higher, delivery limit (issue 8, 10d).
func TestControlQueueDeadLettersPastItsDeliveryLimit(t *testing.T) {
	c := newHub(t, func(cfg *Config) { cfg.ControlDeliveryLimit = 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := ControlQueue(c.cfg.Hub, 0)
	var deliveries atomic.Int64
	k, err := c.Consume(ctx, q, 1, func(d *Delivery) { deliveries.Add(1); _ = d.Nack(true) })
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	dead := make(chan *Delivery, 1)
	kd, err := c.Consume(ctx, DeadLetterQueue(c.cfg.Hub), 1, func(d *Delivery) { _ = d.Ack(); dead <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer kd.Cancel()
	if err := c.Publish(ctx, q, Message{ID: "keeps-failing", InstanceID: "i-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-dead:
		if d.ID != "keeps-failing" || !strings.Contains(d.Reason, "delivery_limit") || !strings.Contains(d.Reason, q) {
			t.Errorf("dead letter %q with reason %q, want keeps-failing, the delivery limit and %s", d.ID, d.Reason, q)
		}
	case <-ctx.Done():
		t.Fatal("the failing control message never reached the dead-letter queue")
	}
	if n := deliveries.Load(); n != int64(c.cfg.ControlDeliveryLimit)+1 {
		t.Errorf("the control message was delivered %d times, want %d", n, c.cfg.ControlDeliveryLimit+1)
	}
}
