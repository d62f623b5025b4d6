package queues

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTopologyRedeclareIsIdempotent(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.DeclareTopology(ctx); err != nil {
		t.Fatalf("second DeclareTopology on the same Conn: %v", err)
	}
	other, err := Dial(ctx, c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.DeclareTopology(ctx); err != nil {
		t.Fatalf("DeclareTopology from a second Conn: %v", err)
	}
	// The re-declared hub still routes, timers included.
	col := newCollector()
	k, err := c.Consume(ctx, WorkItemQueue(c.cfg.Hub), 10, func(d *Delivery) { col.add(d); _ = d.Ack() })
	if err != nil {
		t.Fatal(err)
	}
	defer k.Cancel()
	if err := other.Publish(ctx, WorkItemQueue(c.cfg.Hub), Message{ID: "now"}); err != nil {
		t.Fatal(err)
	}
	if err := other.Schedule(ctx, WorkItemQueue(c.cfg.Hub), time.Now().Add(100*time.Millisecond), Message{ID: "later"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "both messages", func() bool { return col.distinct() == 2 })
}

func TestTopologyMismatch(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name       string
		edit       func(*Config)
		queue      string
		mentioning []string
	}{
		{"another tick", func(cfg *Config) { cfg.TimerTick = 5 * time.Millisecond }, delayLevel(c.cfg.Hub, 0), []string{"x-message-ttl"}},
		{"another delivery limit", func(cfg *Config) { cfg.DeliveryLimit = 9 }, WorkItemQueue(c.cfg.Hub), []string{"x-delivery-limit"}},
		{"more partitions", func(cfg *Config) { cfg.Partitions = 3 }, ControlQueue(c.cfg.Hub, 2), []string{"has 2 control queues", "asks for 3"}},
		{"fewer partitions", func(cfg *Config) { cfg.Partitions = 1 }, ControlQueue(c.cfg.Hub, 1), []string{"has 2 control queues", "asks for 1"}},
		{"another control delivery limit", func(cfg *Config) { cfg.ControlDeliveryLimit = 50 }, ControlQueue(c.cfg.Hub, 0), []string{"x-delivery-limit"}},
		{"more timer levels", func(cfg *Config) { cfg.TimerLevels = 20 }, delayLevel(c.cfg.Hub, 18), []string{"has 18 timer levels", "asks for 20"}},
		{"fewer timer levels", func(cfg *Config) { cfg.TimerLevels = 12 }, delayLevel(c.cfg.Hub, 12), []string{"has 18 timer levels", "asks for 12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := c.cfg
			tc.edit(&cfg)
			other, err := Dial(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			err = other.DeclareTopology(ctx)
			var mm *TopologyMismatchError
			if !errors.As(err, &mm) || !errors.Is(err, ErrTopologyMismatch) {
				t.Fatalf("DeclareTopology = %v, want a *TopologyMismatchError", err)
			}
			if mm.Queue != tc.queue || !strings.Contains(err.Error(), tc.queue) {
				t.Errorf("error names queue %q, want %q: %v", mm.Queue, tc.queue, err)
			}
			t.Log(err)
			for _, s := range tc.mentioning {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not mention %q: %v", s, err)
				}
			}
		})
	}
	// The failed declarations left the hub as it was.
	if err := c.DeclareTopology(ctx); err != nil {
		t.Fatalf("DeclareTopology with the hub's own settings after the mismatches: %v", err)
	}
}

func TestDeleteTopologyTwiceAndOnAMissingHub(t *testing.T) {
	c := newHub(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.DeleteTopology(ctx); err != nil {
		t.Fatalf("DeleteTopology: %v", err)
	}
	if ok, err := queueExistsOn(t, c, WorkItemQueue(c.cfg.Hub)); err != nil || ok {
		t.Fatalf("the work-item queue still exists after DeleteTopology (err %v)", err)
	}
	if err := c.DeleteTopology(ctx); err != nil {
		t.Fatalf("DeleteTopology of a deleted hub: %v", err)
	}
	if err := c.Ping(ctx); err == nil || !strings.Contains(err.Error(), "not declared") {
		t.Fatalf("Ping on a deleted hub = %v, want one saying the hub is not declared", err)
	}
	// Publishing to the deleted hub is unroutable, not silently dropped.
	if err := c.Publish(ctx, WorkItemQueue(c.cfg.Hub), Message{ID: "x"}); !errors.Is(err, ErrUnroutable) {
		t.Fatalf("Publish to a deleted hub = %v, want ErrUnroutable", err)
	}
}

func queueExistsOn(t *testing.T, c *Conn, q string) (bool, error) {
	conn, err := c.connection(context.Background())
	if err != nil {
		return false, err
	}
	return queueExists(context.Background(), conn, q)
}
