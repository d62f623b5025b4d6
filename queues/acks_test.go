package queues

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// sentAcks records what a coalescer sends.
type sentAcks struct {
	mu   sync.Mutex
	sent []string
}

func (s *sentAcks) send(tag uint64, multiple bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if multiple {
		s.sent = append(s.sent, fmt.Sprintf("≤%d", tag))
	} else {
		s.sent = append(s.sent, fmt.Sprint(tag))
	}
	return nil
}

func (s *sentAcks) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent
	s.sent = nil
	return out
}

func coalescerOf(s *sentAcks, delivered ...uint64) *ackCoalescer {
	a := newAckCoalescer(s.send)
	a.flush = func() { _ = a.sendPending() }
	for _, tag := range delivered {
		a.delivered(tag)
	}
	return a
}

func TestAcksInARowFromTheOldestGoAsOne(t *testing.T) {
	var s sentAcks
	a := coalescerOf(&s, 1, 2, 3, 4, 5)
	for _, tag := range []uint64{3, 1, 2} {
		a.ack(tag)
	}
	_ = a.sendPending()
	if got, want := s.take(), []string{"≤3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	a.ack(5)
	_ = a.sendPending()
	if got, want := s.take(), []string{"5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("with 4 open, the ack of 5 sent %v, want %v", got, want)
	}
	a.ack(4)
	_ = a.sendPending()
	if got, want := s.take(), []string{"4"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sent %v, want %v (5 is settled already)", got, want)
	}
	if len(a.open) != 0 {
		t.Fatalf("open after all were acked: %v", a.open)
	}
}

func TestAcksBehindAnOpenDeliveryGoOneByOne(t *testing.T) {
	var s sentAcks
	a := coalescerOf(&s, 1, 2, 3, 4)
	a.ack(2)
	a.ack(3)
	_ = a.sendPending()
	if got, want := s.take(), []string{"2", "3"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sent %v, want %v: a multiple ack would take 1, which nobody acked", got, want)
	}
	// 1 is nacked (sent on its own); a run from 4 is then the oldest.
	a.settled(1)
	a.ack(4)
	_ = a.sendPending()
	if got, want := s.take(), []string{"4"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
}

func TestARunAfterANackCoversOnlyAckedDeliveries(t *testing.T) {
	var s sentAcks
	a := coalescerOf(&s, 7, 8, 9, 10)
	a.settled(7) // nacked
	a.ack(8)
	a.ack(9)
	_ = a.sendPending()
	if got, want := s.take(), []string{"≤9"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	if !reflect.DeepEqual(a.open, []uint64{10}) {
		t.Fatalf("open %v, want [10]", a.open)
	}
}

func TestAnAckIsSentWithinTheWindow(t *testing.T) {
	var s sentAcks
	a := coalescerOf(&s, 1, 2)
	a.ack(1)
	a.ack(2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got := s.take(); len(got) > 0 {
			if want := []string{"≤2"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("sent %v, want %v", got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the acks were never sent")
		}
		time.Sleep(time.Millisecond)
	}
}

// Acks gathered into multiple acks reach the broker like acks sent one by one, those
// still waiting when the consumer is cancelled included: nothing acked comes back, and
// what was never acked does.
func TestGatheredAcksAreAllTakenByTheBroker(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := WorkItemQueue(c.Config().Hub)
	msgs := make([]Message, 300)
	for i := range msgs {
		msgs[i] = Message{ID: fmt.Sprintf("m%d", i), Kind: "ActivityRequested", Body: []byte("{}")}
	}
	if err := c.Publish(ctx, q, msgs...); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Delivery, len(msgs))
	k, err := c.Consume(ctx, q, 100, func(d *Delivery) { got <- d })
	if err != nil {
		t.Fatal(err)
	}
	// All but every 50th are acked, in the order they came, in batches of 25; the
	// consumer is cancelled right after the last ack, within the gathering window.
	var kept int
	for i := range 290 {
		var d *Delivery
		select {
		case d = <-got:
		case <-ctx.Done():
			t.Fatalf("%d of %d delivered", i, len(msgs))
		}
		if d.Redelivered {
			t.Fatalf("message %s came again: the channel was lost during the test", d.ID)
		}
		if i%50 == 0 {
			kept++
			continue
		}
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
		if i%25 == 0 {
			time.Sleep(5 * time.Millisecond) // past the window: the next batch
		}
	}
	if err := k.Cancel(); err != nil {
		t.Fatal(err)
	}
	// The channel's close returned the unacked to the queue: the ones kept, and the ten
	// delivered after the last handled one (in the prefetch or in got).
	want := kept + 10
	last := ""
	waitFor(t, 10*time.Second, fmt.Sprintf("%d messages back in the queue", want), func() bool {
		n, err := c.QueueDepth(ctx, q)
		if seen := fmt.Sprintf("%d in the queue (%v)", n, err); seen != last {
			t.Log(seen) // what the broker showed, should the wait fail
			last = seen
		}
		return err == nil && n == want
	})
}
