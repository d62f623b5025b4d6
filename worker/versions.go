package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/queues"
)

// During a rolling deploy workers of two versions run side by side (docs/design.md section
// 19). What a newer one writes — an event of a kind this build does not know, or of a newer
// schema version, in a message or in an instance's history — this worker cannot apply. While
// a live worker reads a newer schema (its heartbeat says so), such a message is handed on
// instead of dead-lettered: a control message goes back to its partition queue as a fresh
// copy after deferDelay, until a newer worker owns the partition; a work item goes back to
// the shared queue, where a newer worker takes it. A fresh copy starts its delivery count
// again, so waiting out a deploy never spends the delivery limit. With no newer worker live
// (a rollback, or a message no Warren wrote) it is dead-lettered with the reason, and a
// redrive after the upgrade runs it.

// deferDelay is how long a control message this worker cannot read waits before its
// partition queue hands it out again.
const deferDelay = 2 * time.Second

// blockedFor is how long an instance whose message or history this worker cannot read
// stays blocked after its last deferral: its later messages are deferred behind it, so they
// do not overtake it.
const blockedFor = 30 * time.Second

// noteVersions remembers whether another live worker reads a newer event schema, and
// whether one reads an older schema than chained episodes need (eager.go).
func (w *Worker) noteVersions(live []history.WorkerInfo) {
	newer, older := false, false
	for _, l := range live {
		if l.WorkerID == w.cfg.WorkerID {
			continue
		}
		newer = newer || l.SchemaVersion > w.schemaVersion
		older = older || l.SchemaVersion < chainedSchema
	}
	w.newerLive.Store(newer)
	w.olderLive.Store(older)
}

// blockedInstances are the instances whose messages wait for a newer worker, each until
// a time.
type blockedInstances struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (b *blockedInstances) block(id string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.until == nil {
		b.until = map[string]time.Time{}
	}
	b.until[id] = now.Add(blockedFor)
	for k, t := range b.until {
		if now.After(t) {
			delete(b.until, k)
		}
	}
}

func (b *blockedInstances) blocked(id string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.until[id]
	return ok && !now.After(t)
}

// newerCanRead reports whether err says a newer version wrote what this worker cannot read
// while a newer worker is live to read it.
func (w *Worker) newerCanRead(err error) bool {
	return errors.Is(err, history.ErrNewerVersion) && w.newerLive.Load()
}

// waitForNewer decides for the messages of an instance whose history this worker cannot
// read: deferred while a newer worker is live, else dead-lettered with the reason.
func (w *Worker) waitForNewer(p *episodePlan, ds []*queues.Delivery, err error) {
	if w.newerCanRead(err) {
		w.blocked.block(p.id, w.now())
		p.deferred = append(p.deferred, ds...)
		return
	}
	w.log.Warn("history written by a newer version of Warren and no newer worker is live", logging.Instance(p.id, deliverySpan(ds[0]), "err", err)...)
	for _, d := range ds {
		p.dead.add(d, deadNewerVersion, "this worker cannot read the instance's history and no live worker reads a newer schema (redrive it once one runs): "+err.Error())
	}
}

// deferToNewer sends fresh copies of control messages this worker cannot read (or that
// wait behind one) back to their partition queues, deferDelay from now, in order, and acks
// the deliveries. It returns those it could not send, to be held back.
func (w *Worker) deferToNewer(ctx context.Context, ds []*queues.Delivery) (held []*queues.Delivery) {
	if len(ds) == 0 {
		return nil
	}
	byQueue := map[string][]*queues.Delivery{}
	var order []string
	for _, d := range ds {
		q := d.Queue
		if q == "" {
			q = queues.ControlQueue(w.cfg.Hub, queues.PartitionOf(d.InstanceID, w.cfg.Partitions))
		}
		if _, ok := byQueue[q]; !ok {
			order = append(order, q)
		}
		byQueue[q] = append(byQueue[q], d)
	}
	due := w.now().Add(deferDelay)
	for _, q := range order {
		msgs := make([]queues.Message, len(byQueue[q]))
		for i, d := range byQueue[q] {
			msgs[i] = d.Message
		}
		pctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		err := w.broker.Schedule(pctx, q, due, msgs...)
		cancel()
		if err != nil {
			w.metrics.brokerError("defer")
			w.log.Warn("deferring messages for a newer worker failed; holding them", "queue", q, "err", err)
			held = append(held, byQueue[q]...)
			continue
		}
		for _, d := range byQueue[q] {
			w.metrics.deferred.WithLabelValues("control").Inc()
			_ = d.Ack()
		}
	}
	return held
}
