package membroker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/queues"
)

func Example() {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := membroker.New(membroker.Options{Hub: "sim", Partitions: 1, Now: func() time.Time { return now }})
	conn := b.Connect("worker-1")
	work := queues.WorkItemQueue("sim")
	_, _ = conn.Consume(ctx, work, 8, func(d *queues.Delivery) {
		fmt.Println("got", d.ID, "delivery", d.DeliveryCount)
		if d.DeliveryCount == 1 {
			_ = d.Nack(true) // fail once
			return
		}
		_ = d.Ack()
	})
	_ = conn.Publish(ctx, work, queues.Message{ID: "now"})
	_ = conn.Schedule(ctx, work, now.Add(time.Minute), queues.Message{ID: "later"})

	run := func() {
		for r := b.Ready(); len(r) > 0; r = b.Ready() {
			b.Deliver(r[0])
		}
	}
	run()
	due, _ := b.NextDue()
	now = due
	b.Tick()
	run()
	fmt.Println("unacked", b.Unacked(), "acked", b.Stats(work).Acked)
	// Output:
	// got now delivery 1
	// got now delivery 2
	// got later delivery 1
	// got later delivery 2
	// unacked 0 acked 2
}
