package dispatcher

import (
	"context"

	"github.com/warrenhq/warren/queues"
)

// A work item the broker dead-lettered for its delivery limit is not poison. RabbitMQ counts
// every return toward the limit, those of a connection that dropped before the worker saw
// the item included, and a worker renews an item only when it sees it near the limit
// (worker/renew.go); with connections reset every few seconds an item can spend the limit
// unseen. CI saw it: an orchestration waited for good on a result whose work item sat in
// the dead-letter store. So the collector sends such an item back to the work-item queue as
// a fresh copy that carries the deliveries it spent (queues.Message.PriorDeliveries): the
// workers' delivery budget still decides when its task fails (DeliveryLimitExceeded), and
// the orchestration learns of it either way. Only an item that has circulated far past any
// budget (its workers never see it) is kept as a dead letter.

// maxRenewedDeliveries bounds the deliveries of a work item the collector renews.
const maxRenewedDeliveries = 4 * queues.DefaultDeliveryBudget

// renewsWorkItem reports whether m, read from the dead-letter queue, is a work item the
// broker dead-lettered for its delivery limit and may be sent again.
func (d *Dispatcher) renewsWorkItem(m queues.Message) bool {
	work := queues.WorkItemQueue(d.cfg.Hub)
	return m.SourceQueue == work && m.Reason == queues.BrokerReason(work, "delivery_limit") &&
		m.PriorDeliveries < maxRenewedDeliveries
}

// renewWorkItem publishes a fresh copy of m to the work-item queue, counting the deliveries
// the broker allowed the dead copy (the hub's default delivery limit).
func (d *Dispatcher) renewWorkItem(ctx context.Context, m queues.Message) error {
	fresh := m
	fresh.SourceQueue, fresh.Reason = "", ""
	fresh.PriorDeliveries += queues.DefaultDeliveryLimit
	pctx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
	defer cancel()
	return d.publish(pctx, queues.WorkItemQueue(d.cfg.Hub), fresh)
}
