package worker

import (
	"context"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// Steps drives a worker one step at a time from the caller's goroutine, in place of Run:
// the deterministic simulation of a fleet (internal/sim) interleaves the steps of many
// workers, a broker and a store under one seeded scheduler and one virtual clock. A worker
// driven by Steps starts no goroutine of its own.
type Steps struct {
	w     *Worker
	info  history.WorkerInfo
	items []*queues.Delivery // work items handed to this worker, not yet run
	sub   Subscription       // of the work-item queue
}

// Steps returns the stepper of w. crash, when not nil, is asked at each point of the
// episode protocol ("planned", "committed", "published", "written", "acking") and of an
// activity ("activity-ran", "result-sent") whether the worker dies there; after a true
// answer the caller must discard the worker and close its broker connection.
func (w *Worker) Steps(crash func(point string) bool) *Steps {
	w.parallel = 1
	w.crashAt = crash
	w.stepped = true
	return &Steps{w: w, info: history.WorkerInfo{WorkerID: w.cfg.WorkerID, Host: "sim",
		Orchestrators: w.registry.Orchestrators(), Activities: w.registry.Activities(), StartedAt: w.now()}}
}

// Subscribe starts consuming work items; each delivery waits for RunActivity.
func (s *Steps) Subscribe(ctx context.Context) error {
	sub, err := s.w.broker.Consume(ctx, queues.WorkItemQueue(s.w.cfg.Hub), s.w.cfg.ActivityConcurrency,
		func(d *queues.Delivery) { s.items = append(s.items, d) })
	s.sub = sub
	return err
}

// Heartbeat writes the worker's heartbeat and takes and releases partitions to match the
// live workers, as Run does every HeartbeatInterval.
func (s *Steps) Heartbeat(ctx context.Context) { s.w.rebalance(ctx, s.info) }

// Inbox is the number of control messages waiting for a batch.
func (s *Steps) Inbox() int { return s.w.inbox.len() }

// Batch processes what the inbox holds as one batch; it reports whether the store or the
// broker failed (Run would back off).
func (s *Steps) Batch(ctx context.Context) (trouble bool) {
	batch := s.w.inbox.take(512)
	if len(batch) == 0 {
		return false
	}
	trouble = s.w.processBatch(ctx, batch)
	s.w.troubled.Store(trouble)
	return trouble
}

// DocsOwed is the number of instance documents the worker owes the store.
func (s *Steps) DocsOwed() int { return s.w.docs.len() }

// FlushDocs writes the instance documents owed, as Run does every DocLag/10 (all of them,
// however recent: the simulation's clock decides when this step runs).
func (s *Steps) FlushDocs(ctx context.Context) (trouble bool) {
	return s.w.flushDocs(ctx, 0)
}

// Activities is the number of work items waiting to run: those of the queue's handed to
// this worker, then those it runs in place.
func (s *Steps) Activities() int { return len(s.items) + len(s.w.stepItems) }

// RunActivity runs the i-th waiting work item (0 <= i < Activities()) and returns its
// message id.
func (s *Steps) RunActivity(ctx context.Context, i int) string {
	if i >= len(s.items) {
		i -= len(s.items)
		d := s.w.stepItems[i]
		s.w.stepItems = append(s.w.stepItems[:i], s.w.stepItems[i+1:]...)
		s.w.runActivity(ctx, d)
		<-s.w.eager.slots
		return d.ID
	}
	d := s.items[i]
	s.items = append(s.items[:i], s.items[i+1:]...)
	s.w.runActivity(ctx, d)
	return d.ID
}

// SweepTimers warms the cache for the partitions taken since the last call, as Run's warm
// loop does, and runs the timer watch, as Run does every TimerGrace/3.
func (s *Steps) SweepTimers(ctx context.Context) {
	if !s.w.troubled.Load() {
		s.w.warmPartitions(ctx)
	}
	s.w.sweepTimers(ctx)
}

// Owned lists the partitions the worker consumes.
func (s *Steps) Owned() []int { return s.w.OwnedPartitions() }

// Leave stops consuming everything, writes the documents owed and removes the heartbeat,
// as a drain does.
func (s *Steps) Leave(ctx context.Context) {
	if s.sub != nil {
		_ = s.sub.Cancel() // the work items not run go back to the queue
	}
	s.items = nil
	s.w.stepItems = nil // their chains' anchors go back to the queue with the partitions
	s.w.releaseAll()
	s.w.flushDocs(ctx, 0)
	_ = s.w.store.RemoveWorker(ctx, s.w.cfg.WorkerID)
}
