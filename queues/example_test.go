package queues_test

import (
	"context"
	"log"
	"time"

	"github.com/warrenhq/warren/queues"
)

// A worker-shaped use: declare the hub, consume a partition's control queue, and schedule
// a durable timer to it. (Compiled, not run: it needs a broker.)
func Example() {
	ctx := context.Background()
	conn, err := queues.Dial(ctx, queues.Config{URL: "amqp://guest:guest@127.0.0.1:5672/", Hub: "warren"})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if err := conn.DeclareTopology(ctx); err != nil {
		log.Fatal(err) // e.g. the hub exists with another partition count
	}
	p := queues.PartitionOf("device-42", conn.Config().Partitions)
	c, err := conn.Consume(ctx, queues.ControlQueue("warren", p), 64, func(d *queues.Delivery) {
		log.Printf("%s for %s (due %v)", d.Kind, d.InstanceID, d.Due)
		_ = d.Ack()
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Cancel()
	timer := queues.Message{ID: "device-42/timer/7", Kind: "TimerFired", InstanceID: "device-42", Body: []byte(`{}`)}
	if err := conn.Schedule(ctx, queues.ControlQueue("warren", p), time.Now().Add(24*time.Hour), timer); err != nil {
		log.Fatal(err) // a *queues.PublishError lists what the broker did not confirm
	}
}
