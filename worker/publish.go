package worker

import (
	"context"
	"errors"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// publishOutbox sends an episode batch's messages with confirms: activity requests to the
// work-item queue, everything else to the target instance's control queue, delayed ones
// through the timer ladder. Messages for one queue go in one pipelined call.
func (w *Worker) publishOutbox(ctx context.Context, out []history.OutboxMessage) error {
	if len(out) == 0 {
		return nil
	}
	type route struct {
		queue string
		due   time.Time
	}
	byRoute := map[route][]queues.Message{}
	var routes []route
	for _, m := range out {
		r := route{queue: w.queueFor(m), due: m.DueAt}
		if _, ok := byRoute[r]; !ok {
			routes = append(routes, r)
		}
		byRoute[r] = append(byRoute[r], toQueueMessage(m))
	}
	errs := make([]error, len(routes))
	w.each(len(routes), func(i int) {
		r := routes[i]
		if r.due.IsZero() {
			errs[i] = w.broker.Publish(ctx, r.queue, byRoute[r]...)
		} else {
			errs[i] = w.broker.Schedule(ctx, r.queue, r.due, byRoute[r]...)
		}
	})
	err := errors.Join(errs...)
	if err != nil {
		w.metrics.brokerError("publish")
	}
	return err
}

func (w *Worker) queueFor(m history.OutboxMessage) string {
	if m.Kind == history.MessageKindActivity {
		return queues.WorkItemQueue(w.cfg.Hub)
	}
	return queues.ControlQueue(w.cfg.Hub, queues.PartitionOf(m.InstanceID, w.cfg.Partitions))
}

func toQueueMessage(m history.OutboxMessage) queues.Message {
	qm := queues.Message{ID: m.ID, Kind: m.Kind, InstanceID: m.InstanceID, Body: m.Body}
	if m.Trace != nil {
		qm.TraceParent, qm.TraceState = m.Trace.TraceParent, m.Trace.TraceState
	}
	return qm
}
