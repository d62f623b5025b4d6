// Package worker is Warren's worker runtime: it joins the fleet by heartbeat, consumes the
// control queues of the partitions it owns and runs orchestration episodes on them (load or
// take history from its cache, replay, commit, publish, ack — DESIGN.md section 4), and runs
// activities from the shared work-item queue.
//
//	r := durable.NewRegistry()
//	hello.Register(r)
//	w, err := worker.New(ctx, worker.Config{}, r)
//	err = w.Run(ctx) // until ctx ends; then drains and leaves the fleet
package worker

import (
	"context"
	"fmt"
	"github.com/cenkalti/backoff/v4"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/queues"
)

// Worker is one member of the fleet.
type Worker struct {
	cfg      Config
	log      *slog.Logger
	registry *durable.Registry
	exec     *durable.Executor
	store    history.Store
	conn     *queues.Conn
	closeAll func()
	cache    *stateCache

	inbox chan *queues.Delivery // control messages of every owned partition
	// stopping is closed when the worker drains: partition handlers stop feeding inbox.
	stopping chan struct{}

	mu       sync.Mutex
	owned    map[int]*queues.Consumer
	active   sync.WaitGroup // activities in flight
	inFlight atomic.Int32   // the same, countable
}

// New connects to the broker and the store, checks the hub's partition count and declares
// the topology. It does not take any work until Run.
func New(ctx context.Context, cfg Config, r *durable.Registry) (*Worker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	store, err := mongostore.Open(ctx, mongostore.Options{URI: cfg.MongoURI, Hub: cfg.Hub})
	if err != nil {
		return nil, fmt.Errorf("opening the history store: %w", err)
	}
	if err := store.EnsureHub(ctx, cfg.Partitions); err != nil {
		store.Close(context.Background())
		return nil, err
	}
	conn, err := queues.Dial(ctx, queues.Config{URL: cfg.AMQPURL, Hub: cfg.Hub, Partitions: cfg.Partitions, Logger: cfg.Logger})
	if err != nil {
		store.Close(context.Background())
		return nil, fmt.Errorf("connecting to RabbitMQ: %w", err)
	}
	if err := conn.DeclareTopology(ctx); err != nil {
		conn.Close()
		store.Close(context.Background())
		return nil, err
	}
	w := &Worker{
		cfg: cfg, log: cfg.Logger.With("worker", cfg.WorkerID), registry: r,
		exec: durable.NewExecutor(r), store: store, conn: conn,
		cache:    newStateCache(cfg.CacheSize),
		inbox:    make(chan *queues.Delivery, cfg.ControlPrefetch),
		stopping: make(chan struct{}),
		owned:    map[int]*queues.Consumer{},
	}
	w.closeAll = func() {
		conn.Close()
		store.Close(context.Background())
	}
	return w, nil
}

// ID is the worker's id in the heartbeat set.
func (w *Worker) ID() string { return w.cfg.WorkerID }

// Run takes work until ctx ends, then drains: it stops consuming, finishes the episodes and
// activities in flight (within DrainTimeout), removes its heartbeat and closes.
func (w *Worker) Run(ctx context.Context) error {
	defer w.closeAll()
	info := history.WorkerInfo{WorkerID: w.cfg.WorkerID, Host: hostname(),
		Orchestrators: w.registry.Orchestrators(), Activities: w.registry.Activities(),
		StartedAt: time.Now().UTC()}

	// Background work uses its own context so that it can finish after ctx ends.
	work, stopWork := context.WithCancel(context.Background())
	defer stopWork()

	activities, err := w.conn.Consume(work, queues.WorkItemQueue(w.cfg.Hub), w.cfg.ActivityConcurrency, func(d *queues.Delivery) {
		w.active.Add(1)
		w.inFlight.Add(1)
		go func() {
			defer w.active.Done()
			defer w.inFlight.Add(-1)
			w.runActivity(work, d)
		}()
	})
	if err != nil {
		return fmt.Errorf("consuming work items: %w", err)
	}

	processed := make(chan struct{})
	go func() {
		defer close(processed)
		w.processLoop(work)
	}()

	w.log.Info("worker started", "hub", w.cfg.Hub, "partitions", w.cfg.Partitions,
		"orchestrators", len(info.Orchestrators), "activities", len(info.Activities))
	w.heartbeatLoop(ctx, info) // returns when ctx ends

	// Drain.
	w.log.Info("worker draining")
	activities.Cancel()
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
	rmCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.store.RemoveWorker(rmCtx, w.cfg.WorkerID); err != nil {
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
		var batch []*queues.Delivery
		select {
		case d := <-w.inbox:
			batch = append(batch, d)
		case <-sweep.C:
			w.sendOverdueTimers(ctx)
			continue
		case <-w.stopping:
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case d := <-w.inbox:
				batch = append(batch, d)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return // stopping, and nothing left
		}
		if !w.processBatch(ctx, batch) {
			pause.Reset()
			continue
		}
		select {
		case <-time.After(pause.NextBackOff()):
		case <-ctx.Done():
		}
	}
}
