package worker

import (
	"context"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/rendezvous"
	"github.com/warrenhq/warren/queues"
)

// heartbeatLoop writes this worker's heartbeat and rebalances partitions every interval,
// until ctx ends. Ownership follows rendezvous hashing over the live workers (docs/design.md
// section 5); single-active-consumer queues make a brief disagreement harmless.
func (w *Worker) heartbeatLoop(ctx context.Context, info history.WorkerInfo) {
	t := time.NewTicker(w.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		w.rebalance(rctx, info)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Worker) rebalance(ctx context.Context, info history.WorkerInfo) {
	info.HeartbeatAt = w.now()
	info.SchemaVersion = w.schemaVersion
	if c, ok := w.store.(interface{ Ops() history.OpCounts }); ok {
		ops := c.Ops() // the store's command counts, for benchmarks
		info.StoreOps = &ops
	}
	if err := w.store.Heartbeat(ctx, info); err != nil {
		w.metrics.storeError("heartbeat")
		w.log.Warn("heartbeat failed", "err", err)
		return
	}
	w.beatAt.Store(info.HeartbeatAt.UnixNano())
	if w.troubled.Load() {
		select {
		case w.answering <- struct{}{}:
		default:
		}
		if w.inbox.len() == 0 {
			// The store answers again and no message waits for a batch to try it again:
			// the trouble is over. Left set, it would keep the warm-up and the timer sweep
			// off for as long as no message came (only a batch cleared it).
			w.troubled.Store(false)
		}
	}
	// After a gap longer than DeadAfter (the store was away), the other workers' heartbeats
	// are as stale as this one was until they write their next: deciding ownership now would
	// take the whole fleet's partitions for a moment and give them back a heartbeat later,
	// each change dropping cached states. Ownership stays as it is for one more interval.
	gap := info.HeartbeatAt.Sub(w.lastBeat)
	resumed := !w.lastBeat.IsZero() && gap > w.cfg.DeadAfter
	w.lastBeat = info.HeartbeatAt
	if resumed {
		w.log.Info("heartbeat written again; partitions stay as they are until the others have written theirs", "gap", gap.Round(time.Millisecond))
		return
	}
	live, err := w.store.LiveWorkers(ctx, w.cfg.DeadAfter)
	if err != nil {
		w.metrics.storeError("live_workers")
		w.log.Warn("reading live workers failed", "err", err)
		return
	}
	w.noteActivitiesElsewhere(live)
	w.noteVersions(live)
	ids := make([]string, 0, len(live))
	for _, l := range live {
		ids = append(ids, l.WorkerID)
	}
	sort.Strings(ids)
	departed := w.noteDepartures(ids)
	want := map[int]bool{}
	for p := 0; p < w.cfg.Partitions; p++ {
		if rendezvous.Owner(p, ids) == w.cfg.WorkerID {
			want[p] = true
		}
	}
	// Consumers are cancelled without holding w.mu: Cancel waits for a handler, and
	// nothing that a handler or the episode loop waits for may wait for this.
	w.mu.Lock()
	var release []int
	var cancel []Subscription
	now := w.now()
	for p, c := range w.owned {
		if want[p] {
			w.stay(p)
		} else if !w.keepWhileChained(p, now) {
			release = append(release, p)
			cancel = append(cancel, c)
			delete(w.owned, p)
		}
	}
	var take []int
	for p := range want {
		if _, ok := w.owned[p]; !ok {
			take = append(take, p)
		}
	}
	if departed {
		// A worker that left may have gone on working a partition this worker took while
		// it let go (single active consumer), and died owing documents of what it did
		// after the take's warm-up read them: the kept partitions are warmed again.
		for p := range w.owned {
			w.warm.add(p)
		}
	}
	w.mu.Unlock()
	sort.Ints(release)
	sort.Ints(take)
	for i, p := range release {
		_ = cancel[i].Cancel()
		w.forgetPartition(p)
		w.log.Info("released partition", "partition", p)
	}
	for _, p := range take {
		w.forgetPartition(p) // what this worker knew of it before may be stale
		c, err := w.broker.Consume(context.Background(), queues.ControlQueue(w.cfg.Hub, p), w.cfg.ControlPrefetch, w.enqueue)
		if err != nil {
			w.metrics.brokerError("consume")
			w.log.Warn("consuming partition failed", "partition", p, "err", err)
			continue
		}
		w.mu.Lock()
		w.owned[p] = c
		w.mu.Unlock()
		w.warm.add(p)
		w.log.Info("took partition", "partition", p)
	}
}

// noteDepartures records the live workers of this rebalance (ids, sorted) and reports
// whether a worker live at the last one is gone.
func (w *Worker) noteDepartures(ids []string) bool {
	last := w.lastLive
	w.lastLive = ids
	return slices.ContainsFunc(last, func(id string) bool {
		_, found := slices.BinarySearch(ids, id)
		return !found
	})
}

// enqueue hands a control message to the episode loop, or back to the broker when the
// worker is draining. It never blocks.
func (w *Worker) enqueue(d *queues.Delivery) {
	select {
	case <-w.stopping:
		_ = d.Nack(true)
	default:
		if d.Redelivered {
			w.metrics.redelivered("control")
		}
		w.inbox.put(d)
	}
}

// forgetPartition starts a new ownership epoch of partition p: cached states read before
// are no longer served, and messages of p waiting in the inbox are dropped (the broker
// gives them to the partition's owner). A batch in flight that still holds some of them
// commits under the episode number check and cannot cache what it read.
func (w *Worker) forgetPartition(p int) {
	w.epochs[p].Add(1)
	w.inbox.removeQueue(queues.ControlQueue(w.cfg.Hub, p))
	w.forgetChains(p)
}

// epochOf is the current ownership epoch of the instance's partition.
func (w *Worker) epochOf(id string) int64 {
	return w.epochs[queues.PartitionOf(id, w.cfg.Partitions)].Load()
}

// releaseAll stops consuming every owned partition.
func (w *Worker) releaseAll() {
	w.mu.Lock()
	owned := w.owned
	w.owned = map[int]Subscription{}
	w.mu.Unlock()
	for p, c := range owned {
		_ = c.Cancel()
		w.forgetPartition(p)
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
