// Package membroker is an in-memory broker with RabbitMQ's semantics as Warren uses them, for
// the deterministic simulation of a whole fleet in one process: one seeded scheduler, one
// virtual clock, no goroutines and no randomness of its own, so the same calls in the same
// order give the same results.
//
// The hub's queues are declared by [New]: the control queues (single active consumer), the
// work-item queue (competing consumers, a delivery limit, dead-lettering) and the dead-letter
// queue. Deliveries are not pushed: the caller asks which consumers could take a message
// now and hands one over, in the order its scheduler chooses:
//
//	b := membroker.New(membroker.Options{Hub: "sim", Partitions: 4, Now: clock.Now})
//	conn := b.Connect("worker-1")
//	_, err := conn.Consume(ctx, queues.WorkItemQueue("sim"), 8, func(d *queues.Delivery) { _ = d.Ack() })
//	err = conn.Publish(ctx, queues.WorkItemQueue("sim"), queues.Message{ID: "m1"})
//	for r := b.Ready(); len(r) > 0; r = b.Ready() {
//		b.Deliver(r[rng.Intn(len(r))]) // calls handle in this goroutine
//	}
//	clock.Advance(d); b.Tick() // scheduled messages that are due join their queues
//
// What it models: publisher confirms (a lost confirm is an error for an enqueued message),
// unroutable publishes, prefetch, manual acks, requeue at the head of the queue with the
// delivery count raised, the quorum queue's delivery limit, single active consumer with
// hand-over, unacked deliveries returned when a consumer or its connection goes, and timers
// that join their queue when the clock reaches them. Faults are injected by [Options.Faults].
//
// [Broker.Ready] and [Broker.Deliver] are the scheduler's two calls; [Broker.Tick] moves
// due timers into their queues.
package membroker
