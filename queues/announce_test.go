package queues

import (
	"context"
	"fmt"
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

// A listener cut off for longer than its queue's expiry finds the queue gone when it
// reconnects: it declares it again and hears announcements again (issue 8, 10a).
func TestListenerDeclaresItsQueueAgainAfterAReconnect(t *testing.T) {
	proxy, proxied := newCutProxy(t)
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := c.cfg
	cfg.URL = proxied
	cut, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	heard := make(chan string, 10)
	k, err := cut.Listen(ctx, "cut", func(d *Delivery) { heard <- d.ID; _ = d.Ack() })
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		k.Cancel()
		_ = c.StopListening(context.Background(), "cut")
	}()
	// What the broker does to the queue a minute into an outage of its listener.
	if err := c.StopListening(ctx, "cut"); err != nil {
		t.Fatal(err)
	}
	proxy.cut()
	for i := 0; ; i++ {
		id := fmt.Sprintf("after-cut-%d", i)
		if err := c.Announce(ctx, Message{ID: id, Kind: "Ended"}); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-heard:
			t.Logf("heard %s after the reconnect", got)
			return
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("the listener never heard an announcement after its queue was deleted and its connection cut")
		}
	}
}
