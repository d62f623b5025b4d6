package worker

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/warrenhq/warren/queues"
)

// queueDepther is a broker that can say how many messages a queue holds ready
// (*queues.Conn can).
type queueDepther interface {
	QueueDepth(ctx context.Context, queue string) (int, error)
}

// depthCollector reports, when scraped, the messages waiting in the broker for this
// worker: the shared work-item queue, and the control queues of the partitions it owns.
// It asks the broker only when scraped (a passive declare per queue), so a worker nobody
// scrapes pays nothing; summed over the fleet, the control figure is the whole backlog,
// while every worker reports the same work-item queue (take the max).
type depthCollector struct {
	w    *Worker
	desc *prometheus.Desc
}

// depthTimeout bounds the broker calls of one scrape.
const depthTimeout = 2 * time.Second

func newDepthCollector(w *Worker) *depthCollector {
	return &depthCollector{w: w, desc: prometheus.NewDesc("warren_worker_queue_messages",
		"Messages ready in the broker when scraped: queue=\"workitems\", the shared work-item queue (the same for every worker), and queue=\"control\", the control queues of the partitions this worker owns.",
		[]string{"queue"}, nil)}
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	b, ok := c.w.broker.(queueDepther)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), depthTimeout)
	defer cancel()
	hub := c.w.cfg.Hub
	if n, err := b.QueueDepth(ctx, queues.WorkItemQueue(hub)); err != nil {
		c.w.metrics.brokerError("queue_depth")
	} else {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), "workitems")
	}
	total := 0
	for _, p := range c.w.OwnedPartitions() {
		n, err := b.QueueDepth(ctx, queues.ControlQueue(hub, p))
		if err != nil {
			c.w.metrics.brokerError("queue_depth")
			return
		}
		total += n
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(total), "control")
}
