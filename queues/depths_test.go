package queues

import (
	"context"
	"testing"
	"time"
)

func TestDepthsCountEachQueue(t *testing.T) {
	c := newHub(t, func(cfg *Config) { cfg.Partitions = 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Publish(ctx, ControlQueue(c.cfg.Hub, 1), Message{ID: "a", Kind: "K"}, Message{ID: "b", Kind: "K"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, WorkItemQueue(c.cfg.Hub), Message{ID: "w", Kind: "ActivityRequest"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Schedule(ctx, ControlQueue(c.cfg.Hub, 0), time.Now().Add(time.Hour), Message{ID: "t", Kind: "TimerFired"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Depths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 + 2 + c.cfg.TimerLevels; len(got) != want {
		t.Fatalf("%d queues, want %d", len(got), want)
	}
	byName := map[string]QueueDepth{}
	timers := 0
	for _, q := range got {
		byName[q.Name] = q
		if q.Missing {
			t.Errorf("%s missing", q.Name)
		}
		if q.Role == "timer" {
			timers += q.Messages
		}
	}
	if q := byName[ControlQueue(c.cfg.Hub, 1)]; q.Messages != 2 || q.Partition != 1 || q.Role != "control" {
		t.Errorf("control.01 = %+v, want 2 messages", q)
	}
	if q := byName[WorkItemQueue(c.cfg.Hub)]; q.Messages != 1 {
		t.Errorf("workitems = %+v, want 1 message", q)
	}
	if timers != 1 {
		t.Errorf("the ladder holds %d messages, want the one timer", timers)
	}

	// A queue deleted behind the hub's back is reported missing; the rest still answer.
	ch, err := c.cur.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDelete(ControlQueue(c.cfg.Hub, 0), false, false, false); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	got, err = c.Depths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Missing || got[1].Missing || got[3].Missing {
		t.Errorf("after deleting control.00: %+v", got[:4])
	}
}
