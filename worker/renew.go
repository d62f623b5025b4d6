package worker

import (
	"context"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/tracing"
)

// renew replaces a work item that the broker has delivered as often as the queue's delivery
// limit allows with a fresh copy carrying the count so far (queues.Message.PriorDeliveries),
// instead of running it: RabbitMQ counts every return toward the limit, those of a dropped
// connection that never handed the message to its worker included, and past the limit it
// dead-letters the item and the orchestration would wait for a result that never comes.
// The copy starts the broker's count again; Config.WorkItemDeliveryBudget bounds the total.
// It reports whether the item was renewed; when the copy cannot be published the delivery
// is left to run as it is.
func (w *Worker) renew(ctx context.Context, d *queues.Delivery, req history.ActivityRequest) bool {
	m := d.Message
	m.PriorDeliveries += d.DeliveryCount
	if err := w.freshCopy(ctx, d, m, w.now()); err != nil {
		w.metrics.brokerError("renew")
		w.log.Warn("renewing a work item near the queue's delivery limit failed; running it as it is",
			logging.Instance(req.InstanceID, tracing.SpanContextOf(req.Trace), "activity", req.Name,
				"deliveries", m.PriorDeliveries, "err", err)...)
		return false
	}
	w.log.Info("renewed a work item near the queue's delivery limit",
		logging.Instance(req.InstanceID, tracing.SpanContextOf(req.Trace), "activity", req.Name,
			"deliveries", m.PriorDeliveries, "budget", w.cfg.WorkItemDeliveryBudget)...)
	return true
}

// freshCopy publishes m, a fresh copy of d's work item, to the work-item queue (due at due)
// and then acks d, so the copy's delivery count starts again. If the publish fails, d is
// left unsettled and the error returned. A crash between the publish and the ack leaves
// both: the activity may run twice, which at-least-once allows.
func (w *Worker) freshCopy(ctx context.Context, d *queues.Delivery, m queues.Message, due time.Time) error {
	pctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	err := w.broker.Schedule(pctx, queues.WorkItemQueue(w.cfg.Hub), due, m)
	cancel()
	if err != nil {
		return err
	}
	_ = d.Ack()
	return nil
}
