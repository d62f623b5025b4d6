package worker

import (
	"context"
	"fmt"

	"github.com/warrenhq/warren/queues"
)

// consumeWorkItems starts ActivityConcurrency consumers of the work-item queue, each with
// a prefetch of one, so each on a channel of its own: RabbitMQ closes the channel of a
// delivery left unacked longer than its consumer timeout (30 minutes on 3.10), and with
// one channel per work item an activity that outlives it takes back only its own work
// item, never those of the activities running beside it (which would all run again).
// Each delivery runs in a goroutine of its own.
func (w *Worker) consumeWorkItems(ctx context.Context) ([]Subscription, error) {
	handle := func(d *queues.Delivery) {
		w.active.Add(1)
		w.inFlight.Add(1)
		go func() {
			defer w.active.Done()
			defer w.inFlight.Add(-1)
			w.runActivity(ctx, d)
		}()
	}
	subs := make([]Subscription, 0, w.cfg.ActivityConcurrency)
	for range w.cfg.ActivityConcurrency {
		s, err := w.broker.Consume(ctx, queues.WorkItemQueue(w.cfg.Hub), 1, handle)
		if err != nil {
			for _, s := range subs {
				_ = s.Cancel()
			}
			return nil, fmt.Errorf("consuming work items: %w", err)
		}
		subs = append(subs, s)
	}
	return subs, nil
}
