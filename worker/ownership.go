package worker

import (
	"context"
	"os"
	"sort"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/rendezvous"
	"github.com/warrenhq/warren/queues"
)

// heartbeatLoop writes this worker's heartbeat and rebalances partitions every interval,
// until ctx ends. Ownership follows rendezvous hashing over the live workers (DESIGN.md
// section 5); single-active-consumer queues make a brief disagreement harmless.
func (w *Worker) heartbeatLoop(ctx context.Context, info history.WorkerInfo) {
	t := time.NewTicker(w.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		w.rebalance(ctx, info)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Worker) rebalance(ctx context.Context, info history.WorkerInfo) {
	info.HeartbeatAt = w.now()
	if err := w.store.Heartbeat(ctx, info); err != nil {
		w.log.Warn("heartbeat failed", "err", err)
		return
	}
	live, err := w.store.LiveWorkers(ctx, w.cfg.DeadAfter)
	if err != nil {
		w.log.Warn("reading live workers failed", "err", err)
		return
	}
	ids := make([]string, 0, len(live))
	for _, l := range live {
		ids = append(ids, l.WorkerID)
	}
	sort.Strings(ids)
	want := map[int]bool{}
	for p := 0; p < w.cfg.Partitions; p++ {
		if rendezvous.Owner(p, ids) == w.cfg.WorkerID {
			want[p] = true
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, c := range w.owned {
		if !want[p] {
			c.Cancel()
			delete(w.owned, p)
			w.forgetPartition(p)
			w.log.Info("released partition", "partition", p)
		}
	}
	for p := range want {
		if _, ok := w.owned[p]; ok {
			continue
		}
		c, err := w.broker.Consume(context.Background(), queues.ControlQueue(w.cfg.Hub, p), w.cfg.ControlPrefetch, w.enqueue)
		if err != nil {
			w.log.Warn("consuming partition failed", "partition", p, "err", err)
			continue
		}
		w.owned[p] = c
		w.log.Info("took partition", "partition", p)
	}
}

// enqueue hands a control message to the episode loop, or back to the broker when the
// worker is draining.
func (w *Worker) enqueue(d *queues.Delivery) {
	select {
	case w.inbox <- d:
	case <-w.stopping:
		_ = d.Nack(true)
	}
}

// forgetPartition drops the cached state of a partition's instances: once another worker
// owns it, what this one remembers may be stale.
func (w *Worker) forgetPartition(p int) {
	w.cache.dropWhere(func(id string) bool { return queues.PartitionOf(id, w.cfg.Partitions) == p })
}

// releaseAll stops consuming every owned partition.
func (w *Worker) releaseAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for p, c := range w.owned {
		c.Cancel()
		delete(w.owned, p)
	}
}

// OwnedPartitions lists the partitions this worker consumes now.
func (w *Worker) OwnedPartitions() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	ps := make([]int, 0, len(w.owned))
	for p := range w.owned {
		ps = append(ps, p)
	}
	sort.Ints(ps)
	return ps
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// ownsInstance reports whether this worker consumes the instance's partition now.
func (w *Worker) ownsInstance(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.owned[queues.PartitionOf(id, w.cfg.Partitions)]
	return ok
}
