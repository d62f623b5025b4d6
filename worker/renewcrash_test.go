package worker

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// diesAfterRenewal is a worker's broker connection that is lost right after the fresh copy
// of a renewed work item was confirmed, before the worker acks the delivery it replaces:
// the crash between the renewal's two steps.
type diesAfterRenewal struct{ memConn }

func (c diesAfterRenewal) Schedule(ctx context.Context, queue string, due time.Time, msgs ...queues.Message) error {
	err := c.memConn.Schedule(ctx, queue, due, msgs...)
	for _, m := range msgs {
		if err == nil && m.PriorDeliveries > 0 {
			_ = c.Conn.Close()
		}
	}
	return err
}

// A worker that dies between publishing a renewed work item's fresh copy and acking the
// delivery it replaces leaves both in the broker: the old delivery comes back as well, so the
// activity may run twice (at-least-once), but its result is applied once and the
// orchestration completes; at most the old delivery is dead-lettered.
func TestCrashBetweenRenewalAndAckAppliesTheResultOnce(t *testing.T) {
	ran := 0
	r := onceRegistry(t, func(context.Context, any) (string, error) { ran++; return "ran", nil })
	f := newFleet(t, r, nil, nil)
	ctx := context.Background()
	w, conn := f.worker("w0")
	f.start("once", "Once", "null")
	f.deliverAll()
	w.Batch(ctx) // the episode schedules the activity
	f.deliverAll()
	// Its workers die before running it, until the queue's last delivery.
	for i := 1; i < queues.DefaultDeliveryLimit-1; i++ {
		_ = conn.Close()
		f.now = f.now.Add(10 * time.Second)
		_, conn = f.worker(fmt.Sprintf("w%d", i))
		f.deliverAll()
	}
	_ = conn.Close()
	f.now = f.now.Add(10 * time.Second)
	last := f.broker.Connect("renewer")
	rw, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "renewer", Now: f.clock, TimerGrace: 30 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}, f.store, diesAfterRenewal{memConn{last}}, f.reg)
	must(t, err)
	renewer := rw.Steps(nil)
	must(t, renewer.Subscribe(ctx))
	renewer.Heartbeat(ctx)
	f.deliverAll()
	if renewer.Activities() != 1 || renewer.items[0].DeliveryCount != queues.DefaultDeliveryLimit {
		t.Fatalf("the renewer holds %d work items, want the one on its delivery %d", renewer.Activities(), queues.DefaultDeliveryLimit)
	}
	renewer.RunActivity(ctx, 0) // publishes the copy, then its connection is gone
	if ran != 0 {
		t.Fatalf("the activity ran %d times at the renewal, want 0", ran)
	}

	f.now = f.now.Add(10 * time.Second)
	after, _ := f.worker("after")
	inst := f.settle(after, "once")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"ran"` {
		t.Fatalf("instance %+v (failure %+v), want Completed with \"ran\"", inst, inst.Failure)
	}
	if ran < 1 || ran > 2 {
		t.Fatalf("the activity ran %d times, want once or twice", ran)
	}
	eps, err := f.store.LoadHistory(ctx, "once", inst.ExecutionID)
	must(t, err)
	completed := 0
	for _, ep := range eps {
		for _, ev := range ep.Events {
			if ev.Kind == history.TaskCompleted {
				completed++
			}
		}
	}
	if completed != 1 {
		t.Fatalf("%d TaskCompleted in the history, want the result applied once", completed)
	}
	if dl := f.broker.DeadLetters(); len(dl) > 1 {
		t.Fatalf("%d dead letters, want at most the replaced delivery", len(dl))
	}
	t.Logf("the activity ran %d times; %d dead letters", ran, len(f.broker.DeadLetters()))
}
