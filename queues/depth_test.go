package queues

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// QueueDepth counts the messages a queue holds ready, and names a queue that is not there.
func TestQueueDepthCountsReadyMessages(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := WorkItemQueue(c.Config().Hub)
	if n, err := c.QueueDepth(ctx, q); err != nil || n != 0 {
		t.Fatalf("empty queue: %d, %v", n, err)
	}
	msgs := make([]Message, 3)
	for i := range msgs {
		msgs[i] = Message{ID: fmt.Sprintf("m%d", i), Kind: "ActivityRequested", Body: []byte("{}")}
	}
	if err := c.Publish(ctx, q, msgs...); err != nil {
		t.Fatal(err)
	}
	// Confirmed means enqueued; the count a passive declare answers follows at once.
	if n, err := c.QueueDepth(ctx, q); err != nil || n != 3 {
		t.Fatalf("after 3 confirmed publishes: %d, %v", n, err)
	}
	if _, err := c.QueueDepth(ctx, "no-such-queue-"+c.Config().Hub); err == nil || !strings.Contains(err.Error(), "no-such-queue") {
		t.Fatalf("a missing queue: %v", err)
	}
	// The connection survives the refused question.
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping after a missing queue: %v", err)
	}
}
