// Package memstore is a [history.Store] in memory, for the deterministic simulation and for
// unit tests that need a store but are not about one. It is never a substitute for an
// integration test: only history/mongo against a real server shows what the database does.
//
// It behaves like history/mongo wherever a caller could tell: it passes the same suite
// (history/storetest); it keeps copies (every record goes through BSON on the way in and
// out, so instance times come back in milliseconds, UTC, as MongoDB's datetimes do); it
// refuses what the real store refuses, with the same errors; and its results never depend
// on map order. Its clock and its failures are the caller's to choose:
//
//	s := memstore.New(memstore.Options{
//		Now: clock.Now,
//		Faults: func(op memstore.Op) memstore.Fault {
//			if op.Kind == memstore.OpUpdateInstance && rng.IntN(10) == 0 {
//				return memstore.Fault{Err: errLostReply, AfterEffect: true}
//			}
//			return memstore.Fault{}
//		},
//	})
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
)

// Options configures New. The zero value is a store on the wall clock that never fails.
type Options struct {
	// Now is the store's clock: it stamps heartbeats and judges liveness (default time.Now).
	// The store calls it under its lock, one call at a time.
	Now func() time.Time
	// Faults, when set, is asked before each operation, outside the store's lock, and may
	// fail it. A CommitEpisodes asks once per episode.
	Faults func(op Op) Fault
	// PayloadInlineMax is the largest event input or output an episode keeps inline
	// (default history.DefaultPayloadInlineMax).
	PayloadInlineMax int
}

// Op names one operation for Options.Faults.
type Op struct {
	// Kind is the method's name: one of the Op* constants.
	Kind string
	// InstanceID is the instance the operation is about; "" for EnsureHub, ListInstances
	// and the worker operations.
	InstanceID string
	// WorkerID is the worker of Heartbeat and RemoveWorker; "" otherwise.
	WorkerID string
}

// Operation kinds, the names of the [history.Store] methods.
const (
	OpEnsureHub       = "EnsureHub"
	OpCreateInstance  = "CreateInstance"
	OpGetInstance     = "GetInstance"
	OpGetInstances    = "GetInstances"
	OpListInstances   = "ListInstances"
	OpUpdateInstance  = "UpdateInstance"
	OpUpdateInstances = "UpdateInstances"
	OpPurge           = "Purge"
	OpLoadHistory     = "LoadHistory"
	OpLoadHistories   = "LoadHistories"
	OpCommitEpisodes  = "CommitEpisodes"
	OpHeartbeat       = "Heartbeat"
	OpRemoveWorker    = "RemoveWorker"
	OpLiveWorkers     = "LiveWorkers"
)

// Fault is what Options.Faults decides for one operation. The zero Fault lets it run.
type Fault struct {
	// Err, when set, fails the operation with an error that wraps it.
	Err error
	// AfterEffect lets the operation take effect before it reports Err: a reply lost on the
	// way back, after which the caller cannot tell whether it happened.
	AfterEffect bool
}

// Store is a history.Store in memory. It is safe for concurrent use.
type Store struct {
	opts Options

	mu         sync.Mutex
	partitions int
	instances  map[string]bson.Raw                      // by instance id
	history    map[string]map[string]map[int64]bson.Raw // instance, execution, episode number
	workers    map[string]bson.Raw                      // by worker id
	dead       map[string]history.DeadLetter            // by record id (deadletters.go)
	payloads   map[string]map[history.PayloadRef][]byte // by instance id (payloads.go)
}

var _ history.Store = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PayloadInlineMax <= 0 {
		opts.PayloadInlineMax = history.DefaultPayloadInlineMax
	}
	return &Store{
		opts:      opts,
		instances: make(map[string]bson.Raw),
		history:   make(map[string]map[string]map[int64]bson.Raw),
		workers:   make(map[string]bson.Raw),
		payloads:  make(map[string]map[history.PayloadRef][]byte),
	}
}

// fault asks Options.Faults about op.
func (s *Store) fault(op Op) Fault {
	if s.opts.Faults == nil {
		return Fault{}
	}
	return s.opts.Faults(op)
}

// faultError is the error a fault makes op return.
func faultError(op Op, f Fault) error {
	what := "failed"
	if f.AfterEffect {
		what = "took effect, then failed"
	}
	return fmt.Errorf("memstore: %s %q %s (injected): %w", op.Kind, op.InstanceID+op.WorkerID, what, f.Err)
}

// run carries out op: it checks ctx, asks for a fault, and runs effect under the store's
// lock unless the fault fails the operation before it takes effect.
func run[T any](ctx context.Context, s *Store, op Op, effect func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("memstore: %s: %w", op.Kind, err)
	}
	f := s.fault(op)
	if f.Err != nil && !f.AfterEffect {
		return zero, faultError(op, f)
	}
	s.mu.Lock()
	v, err := effect()
	s.mu.Unlock()
	if f.Err != nil {
		return zero, faultError(op, f)
	}
	return v, err
}

// exec is run for an operation that returns only an error.
func exec(ctx context.Context, s *Store, op Op, effect func() error) error {
	_, err := run(ctx, s, op, func() (struct{}, error) { return struct{}{}, effect() })
	return err
}
