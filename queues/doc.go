// Package queues is Warren's RabbitMQ layer: the hub's topology, the message envelope,
// publishing with pipelined publisher confirms, consuming with manual acks, and durable
// timers that ride the broker itself. It uses no broker plugin.
//
// A hub (default "warren") is, on one broker or cluster, all quorum queues:
//
//	warren.control.00 .. NN  one per partition, single active consumer; an instance's
//	                         messages go to PartitionOf(instanceID, P); one delivered more
//	                         than Config.ControlDeliveryLimit times goes to the dead-letter queue
//	                         ([PartitionOf], [Config.ControlDeliveryLimit])
//	warren.workitems         activity invocations, competing consumers; a message delivered
//	                         more than Config.DeliveryLimit times goes to the dead-letter queue
//	warren.deadletter        what could not be handled, with the reason in x-warren-reason
//	warren.delay.00 .. 17    the timer ladder (see Schedule and delay.go)
//
// Smallest use:
//
//	conn, err := queues.Dial(ctx, queues.Config{URL: "amqp://guest:guest@127.0.0.1:5672/"})
//	if err != nil { ... }
//	defer conn.Close()
//	err = conn.DeclareTopology(ctx)
//	err = conn.Publish(ctx, queues.WorkItemQueue("warren"), queues.Message{ID: "m1", Body: body})
//	c, err := conn.Consume(ctx, queues.WorkItemQueue("warren"), 16, func(d *queues.Delivery) {
//		// ... work ...
//		_ = d.Ack()
//	})
//	defer c.Cancel()
//
// Guarantees: [Conn.Publish] returns nil only when the broker confirmed every message (an
// unroutable or nacked one is an error, listed in a [*PublishError]); deliveries are
// at-least-once, so receivers drop duplicates by message id. A [Conn] reconnects by itself
// with backoff, declares the topology again and its consumers subscribe again. No call
// waits on the broker past its ctx or [Config.OperationTimeout]: a broker that stops
// answering costs the connection (which then reconnects), never a hung caller.
//
// Timers: [Conn.Schedule] publishes into the ladder; each level holds a message 2^k ticks and
// dead-letters it (at least once) to the level below, so a broker restart loses no timer.
// Re-arming happens on the consumer side: a scheduled message carries its due time
// (x-warren-due), and [Conn.Consume] schedules again, instead of handing over, a message that
// arrives before it is due (a delay longer than the ladder, skewed clocks). The handler never
// sees a timer early.
package queues
