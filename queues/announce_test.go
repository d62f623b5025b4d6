package queues

import (
	"context"
	"testing"
	"time"
)

// Every listener gets every announcement; announcing with nobody listening is no error.
func TestAnnounceReachesEveryListener(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Announce(ctx, Message{ID: "nobody-hears", Kind: "Ended", InstanceID: "x"}); err != nil {
		t.Fatalf("announcing without listeners: %v", err)
	}
	got := [2]chan string{make(chan string, 10), make(chan string, 10)}
	for i, name := range []string{"a", "b"} {
		k, err := c.Listen(ctx, name, func(d *Delivery) {
			got[i] <- d.InstanceID
			_ = d.Ack()
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			k.Cancel()
			if err := c.StopListening(context.Background(), name); err != nil {
				t.Error(err)
			}
		}()
	}
	if err := c.Announce(ctx, Message{ID: "n1", Kind: "Ended", InstanceID: "instance-1"}); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		select {
		case id := <-got[i]:
			if id != "instance-1" {
				t.Fatalf("listener %d got %q", i, id)
			}
		case <-ctx.Done():
			t.Fatalf("listener %d heard nothing", i)
		}
	}
}
