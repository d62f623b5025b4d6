package membroker

import "github.com/warrenhq/warren/queues"

// Ready is a consumer that could receive the head of its queue now.
type Ready struct {
	Queue    string
	Conn     string // the consumer's connection
	Consumer *Consumer
}

// Ready lists every consumer that could receive a message now: its queue is not empty, it
// has fewer unsettled deliveries than its prefetch, and on a control queue it is the single
// active consumer. The order is fixed: queues in declaration order (control queues by
// partition, the work-item queue, the dead-letter queue), consumers in subscription order.
// On the work-item queue every consumer with room is listed, so the caller's scheduler,
// not the broker, picks who competes best. Consumers whose ctx has ended are stopped first.
func (b *Broker) Ready() []Ready {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reap()
	var out []Ready
	for _, q := range b.order {
		if len(q.items) == 0 {
			continue
		}
		for _, k := range q.consumers {
			if b.canReceive(k) {
				out = append(out, Ready{Queue: q.name, Conn: k.conn.name, Consumer: k})
			}
		}
	}
	return out
}

// canReceive reports whether k may take the head of its queue now.
func (b *Broker) canReceive(k *Consumer) bool {
	return !k.stopped && !k.conn.closed && len(k.q.items) > 0 &&
		len(k.unacked) < k.prefetch && k.q.receives(k)
}

// Deliver hands the head of r's queue to r's consumer: it calls the consumer's handler in
// the caller's goroutine, without the broker's lock, and returns when the handler does. It
// returns false, and calls nothing, when r is no longer ready (the consumer stopped or is
// full, the queue emptied or another consumer became active).
func (b *Broker) Deliver(r Ready) bool {
	k := r.Consumer
	if k == nil || k.b != b {
		return false
	}
	b.mu.Lock()
	b.reap()
	if k.q.name != r.Queue || !b.canReceive(k) {
		b.mu.Unlock()
		return false
	}
	e := k.q.pop()
	d := &delivery{k: k, e: e}
	k.unacked = append(k.unacked, d)
	b.unacked++
	k.q.stats.Delivered++
	qd := queues.NewDelivery(e.msg, k.q.name, e.redelivered, e.returns+1, d)
	qd.Due = e.due
	b.mu.Unlock()
	k.handle(qd)
	return true
}
