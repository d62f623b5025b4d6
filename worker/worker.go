// Package worker is Warren's worker runtime: a [Worker] joins the fleet by heartbeat, consumes
// the control queues of the partitions it owns and runs orchestration episodes on them (load or
// take history from its cache, replay, commit, publish, ack — docs/design.md section 4), and runs
// activities from the shared work-item queue.
//
//	r := durable.NewRegistry()
//	hello.Register(r)
//	w, err := worker.Open(ctx, worker.Config{}, r) // or New over a store and broker of your own
//	err = w.Run(ctx) // until ctx ends; then drains and leaves the fleet
//
// [Open] dials the services named in [Config]; [New] takes a [history.Store] and a [Broker]
// that the caller opened (the simulation passes in-memory ones). [Worker.Handler] serves
// /healthz, /readyz and /metrics.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/hubconn"
	"github.com/warrenhq/warren/internal/startup"
	"github.com/warrenhq/warren/queues"
)

// Broker is what a worker needs of RabbitMQ; *queues.Conn provides it through Open, and
// the simulation provides an in-memory one.
type Broker interface {
	// Publish sends messages to a queue and returns once the broker has confirmed them.
	Publish(ctx context.Context, queue string, msgs ...queues.Message) error
	// Schedule sends messages that the queue receives at due (durable timers).
	Schedule(ctx context.Context, queue string, due time.Time, msgs ...queues.Message) error
	// Consume calls handle for each delivery of queue, at most prefetch unsettled at once.
	Consume(ctx context.Context, queue string, prefetch int, handle func(*queues.Delivery)) (Subscription, error)
	// Announce tells every listening dispatcher (best effort) that instances have ended.
	Announce(ctx context.Context, msgs ...queues.Message) error
}

// Subscription is one consumer made by [Broker.Consume].
type Subscription interface {
	// Cancel stops the consumer and waits until its handler has returned.
	Cancel() error
}

// Worker is one member of the fleet.
type Worker struct {
	cfg      Config
	log      *slog.Logger
	registry *durable.Registry
	exec     *durable.Executor
	store    history.Store
	broker   Broker
	closeAll func()
	cache    *stateCache
	docs     *docWriter // instance documents owed to the store

	inbox *inbox // control messages of every owned partition
	// stopping is closed when the worker drains: partition handlers stop feeding inbox.
	stopping chan struct{}
	// epochs count the ownership changes of each partition (see forgetPartition).
	epochs []atomic.Int64
	// warm lists the partitions taken since the timer watch last looked at them.
	warm *partitionSet

	mu       sync.Mutex
	owned    map[int]Subscription
	active   sync.WaitGroup // activities in flight
	inFlight atomic.Int32   // the same, countable
	// troubled is set while the last batch met a store or broker failure.
	troubled atomic.Bool
	// answering wakes the episode loop from its back-off when a heartbeat succeeds while
	// troubled: the store is back, so waiting out the pause would only delay the work.
	answering chan struct{}
	// lastBeat is when this worker's last heartbeat was written (heartbeat loop only).
	lastBeat time.Time
	// lastLive holds the workers live at the last rebalance, sorted (heartbeat loop only).
	lastLive []string
	// beatAt is the same in Unix nanoseconds, for readers on other goroutines (/readyz);
	// 0 before the first heartbeat.
	beatAt atomic.Int64
	// draining is set once Run's context has ended.
	draining atomic.Bool
	metrics  *metrics
	// readiness answers /readyz, and logs what it found when it changes.
	readiness startup.Readiness
	// parallel bounds the goroutines of one batch's store and broker calls (each).
	parallel int
	// crashAt, when set (the simulation), is asked at each step of the protocol whether
	// the worker dies there; a true answer abandons the batch or activity on the spot.
	crashAt func(point string) bool
	// down is set once crashAt said the worker dies: a batch whose activity died in place
	// commits nothing.
	down atomic.Bool
	// elsewhere holds the activities the other live workers register, by name, as of the
	// last heartbeat (see handOn).
	elsewhere atomic.Pointer[map[string]bool]
	// schemaVersion is the newest event schema this worker reads (history.SchemaVersion;
	// tests play other versions); newerLive is set while another live worker reads a newer
	// one, and blocked holds the instances whose messages wait for it (versions.go).
	schemaVersion int
	newerLive     atomic.Bool
	blocked       blockedInstances
	// olderLive is set while another live worker reads a schema older than chained
	// episodes need: nothing runs in place meanwhile (eager.go).
	olderLive atomic.Bool
	// stepped is set when Steps drives the worker: it starts no goroutine of its own.
	stepped bool
	// eager keeps the activities run in place and the inputs kept unacked for them.
	eager *eager
	// work is Run's context of the work it takes, which its activities run under (nil
	// when Steps drives the worker).
	work context.Context
	// stepItems are the activities to run in place when Steps drives the worker.
	stepItems []*queues.Delivery
}

// Open connects to the broker and the store named in cfg, checks the hub's partition count
// and declares the topology (internal/hubconn), and returns a worker over them that closes
// them when Run returns. It does not take any work until Run.
func Open(ctx context.Context, cfg Config, r *durable.Registry) (*Worker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	h, err := hubconn.Open(ctx, hubconn.Options{AMQPURL: cfg.AMQPURL, MongoURI: cfg.MongoURI, Hub: cfg.Hub,
		Partitions: cfg.Partitions, AppName: "warren-worker", Logger: cfg.Logger, PayloadInlineMax: cfg.PayloadInlineMax})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	w, err := New(cfg, h.Store, connBroker{h.Conn}, r)
	if err != nil {
		_ = h.Close()
		return nil, err
	}
	w.closeAll = func() { _ = h.Close() }
	return w, nil
}

// New returns a worker over a store and a broker that the caller has opened (and closes):
// the hub's partition count must already be recorded and its queues declared.
func New(cfg Config, store history.Store, broker Broker, r *durable.Registry) (*Worker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	w := &Worker{
		cfg: cfg, log: cfg.Logger.With("worker", cfg.WorkerID), registry: r,
		exec: durable.NewExecutor(r), store: store, broker: broker, closeAll: func() {}, schemaVersion: history.SchemaVersion,
		cache:     newStateCache(cfg.CacheSize),
		docs:      newDocWriter(),
		inbox:     newInbox(),
		stopping:  make(chan struct{}),
		epochs:    make([]atomic.Int64, cfg.Partitions),
		warm:      &partitionSet{},
		owned:     map[int]Subscription{},
		answering: make(chan struct{}, 1),
		parallel:  8,
		eager:     newEager(cfg.InPlaceActivities),
	}
	w.metrics = newMetrics(w)
	return w, nil
}

// connBroker adapts a RabbitMQ connection to Broker.
type connBroker struct{ *queues.Conn }

func (b connBroker) Consume(ctx context.Context, queue string, prefetch int, handle func(*queues.Delivery)) (Subscription, error) {
	return b.Conn.Consume(ctx, queue, prefetch, handle)
}

// now is the worker's clock, in UTC.
func (w *Worker) now() time.Time { return w.cfg.Now().UTC() }

// ID is the worker's id in the heartbeat set.
func (w *Worker) ID() string { return w.cfg.WorkerID }

// Run takes work until ctx ends, then drains: it stops consuming, finishes the episodes and
// activities in flight (within DrainTimeout), removes its heartbeat and closes.
func (w *Worker) Run(ctx context.Context) error {
	defer w.closeAll()
	info := history.WorkerInfo{WorkerID: w.cfg.WorkerID, Host: hostname(),
		Orchestrators: w.registry.Orchestrators(), Activities: w.registry.Activities(),
		StartedAt: w.now(), ActivityConcurrency: w.cfg.ActivityConcurrency}

	// Background work uses its own context so that it can finish after ctx ends.
	work, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	w.work = work

	activities, err := w.consumeWorkItems(work)
	if err != nil {
		return err
	}

	processed := make(chan struct{})
	go func() {
		defer close(processed)
		w.processLoop(work)
	}()
	docsDone := make(chan struct{})
	go func() {
		defer close(docsDone)
		w.docLoop(work)
	}()
	warmed := make(chan struct{})
	go func() {
		defer close(warmed)
		w.warmLoop(work)
	}()
	retained := make(chan struct{})
	go func() {
		defer close(retained)
		if w.cfg.Retention > 0 {
			w.retentionLoop(work)
		}
	}()

	w.log.Info("worker started", "hub", w.cfg.Hub, "partitions", w.cfg.Partitions,
		"orchestrators", len(info.Orchestrators), "activities", len(info.Activities))
	w.heartbeatLoop(ctx, info) // returns when ctx ends

	// Drain.
	w.draining.Store(true)
	w.log.Info("worker draining")
	for _, a := range activities {
		_ = a.Cancel()
	}
	// Activities running in place finish their chains first (nothing more runs in place
	// now), so that the partitions' next owners need not run them again.
	w.awaitChains(w.cfg.DrainTimeout / 2)
	w.releaseAll()
	close(w.stopping)
	drained := make(chan struct{})
	go func() {
		w.active.Wait()
		<-processed
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(w.cfg.DrainTimeout):
		w.log.Warn("drain timed out; unfinished work will be redelivered to other workers")
	}
	stopWork()
	<-docsDone
	<-warmed
	<-retained
	// The documents owed are written before the worker leaves, within DrainTimeout: a store
	// that lags (keyed writes scan on FerretDB) may owe many.
	fctx, cancelFlush := context.WithTimeout(context.Background(), w.cfg.DrainTimeout)
	if w.flushDocs(fctx, 0) || w.docs.len() > 0 {
		w.log.Warn("some instance documents were not written; the next owners of their partitions repair them", "owed", w.docs.len())
	}
	cancelFlush()
	rmCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.store.RemoveWorker(rmCtx, w.cfg.WorkerID); err != nil {
		w.metrics.storeError("remove_worker")
		w.log.Warn("removing heartbeat failed", "err", err)
	}
	w.log.Info("worker stopped")
	return nil
}

// processLoop takes control messages as they come and runs them in batches: whatever has
// arrived while the previous batch was being processed forms the next one.
func (w *Worker) processLoop(ctx context.Context) {
	const maxBatch = 512
	sweep := time.NewTicker(w.cfg.TimerGrace / 3)
	defer sweep.Stop()
	// While the store or the broker fails, wait longer and longer between batches.
	pause := backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(5*time.Second), backoff.WithMaxElapsedTime(0))
	for {
		select {
		case <-w.inbox.ready:
		case <-sweep.C:
			sctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
			w.sweepTimers(sctx)
			cancel()
			continue
		case <-w.stopping:
		}
		batch := w.inbox.take(maxBatch)
		if len(batch) == 0 {
			select {
			case <-w.stopping:
				return // stopping, and nothing left
			default:
				continue
			}
		}
		bctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		trouble := w.processBatch(bctx, batch)
		cancel()
		w.troubled.Store(trouble)
		if !trouble {
			pause.Reset()
			continue
		}
		select {
		case <-time.After(pause.NextBackOff()):
		case <-w.answering:
		case <-ctx.Done():
		}
	}
}
