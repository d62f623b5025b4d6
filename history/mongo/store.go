// Package mongo is Warren's [history.Store] on MongoDB (or a MongoDB-protocol server such as
// FerretDB): one database per task hub holding the collections `instances`, `history` (one
// document per committed episode), `hub` (the partition count) and `workers` (heartbeats).
//
// It relies only on single-document atomicity and unique-key inserts, so MongoDB from 4.4 on
// and FerretDB v1.24 both work: no transactions, change streams, TTL indexes or server-side
// time limits. Every race that decides correctness is a unique-key insert, the one write
// FerretDB makes atomic. Instance documents are replaced conditionally on their version,
// which FerretDB does not make atomic; [Store.UpdateInstance] reads back and repairs
// (versions.go).
// Heartbeats and liveness use the server's clock, never a worker's.
//
// Storage format: json.RawMessage and []byte fields (inputs, outputs, outbox bodies) are BSON
// binary and come back byte for byte. Times in history documents are RFC 3339 strings with
// nanoseconds, so replay sees exactly the times that were written; times in instance and
// worker documents are BSON datetimes (milliseconds, UTC) because queries compare them.
//
//	s, err := mongo.Open(ctx, mongo.Options{URI: "mongodb://127.0.0.1:27017/", Hub: "warren"})
//	if err != nil { ... }
//	defer s.Close(context.Background())
//	errs := s.CommitEpisodes(ctx, episodes) // one insertMany; errs[i] per episode
package mongo

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	mongodrv "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"

	"github.com/warrenhq/warren/history"
)

// ErrInvalidArgument marks input the store refuses before touching the database (an empty
// instance id, a nil episode, a malformed cursor, ...). Errors wrap it with the details. It
// is [history.ErrInvalidArgument], so callers that hold only a history.Store test for that.
var ErrInvalidArgument = history.ErrInvalidArgument

// Options configures Open. URI and Hub are required.
type Options struct {
	// URI is a MongoDB connection string; it may hold a password and is never logged.
	URI string
	// Hub is the task hub name; it is the database name, so it is limited to letters,
	// digits, '_' and '-' (at most 63 characters), which both MongoDB and FerretDB accept.
	Hub string
	// WriteConcernMajority makes every write wait for a majority of a replica set (DESIGN
	// section 11). Leave it off for a single server or FerretDB.
	WriteConcernMajority bool
	// ServerSelectionTimeout bounds how long an operation waits for a reachable server
	// (default DefaultServerSelectionTimeout, unless the URI sets serverSelectionTimeoutMS).
	// Per-operation limits come from the caller's context.
	ServerSelectionTimeout time.Duration
	// AppName is reported to the server (default "warren").
	AppName string
	// MaxPoolSize bounds the connections to the server (default 16, unless the URI sets
	// maxPoolSize). FerretDB on PostgreSQL stalls when a few processes each open the
	// driver's default of 100 and use them at once: its own pool to PostgreSQL is smaller.
	MaxPoolSize uint64
	// PayloadInlineMax is the largest event input or output an episode keeps inline;
	// larger ones are kept as payloads (default history.DefaultPayloadInlineMax).
	PayloadInlineMax int
}

// DefaultServerSelectionTimeout is how long an operation waits for a server that is down or
// restarting before it fails (IsUnavailable). It is short so that the store's absence is
// answered promptly: the dispatcher's requests fail with 503 within seconds rather than
// hang, and workers back off and try again (the driver's default is 30 s). A server that
// answers is selected at once, however busy; the wait is only for one that does not.
const DefaultServerSelectionTimeout = 2 * time.Second

// Collection names inside the hub's database.
const (
	instancesCollection = "instances"
	historyCollection   = "history"
	hubCollection       = "hub"
	workersCollection   = "workers"
	payloadsCollection  = "payloads"
)

var hubNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

// Store is a history.Store on one hub's database. It is safe for concurrent use.
type Store struct {
	client    *mongodrv.Client
	db        *mongodrv.Database
	instances *mongodrv.Collection
	history   *mongodrv.Collection
	hub       *mongodrv.Collection
	workers   *mongodrv.Collection
	payloads  *mongodrv.Collection
	// inlineMax is the largest event input or output an episode keeps inline.
	inlineMax int

	// keyedReads: read many instances or histories one keyed query each (keyed.go).
	keyedReads bool

	// writerID marks the instance documents this Store writes, so that UpdateInstance can
	// tell a document another process wrote (see versions.go).
	writerID string
	// updates serializes this Store's writes of one instance document.
	updates keyedLocks
	// ops counts the commands sent, by kind (counters.go).
	ops *opCounters
}

var _ history.Store = (*Store)(nil)

// Open connects, checks that the server answers and creates the indexes (idempotently).
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.URI == "" {
		return nil, fmt.Errorf("mongo store: %w: empty URI", ErrInvalidArgument)
	}
	if !hubNamePattern.MatchString(opts.Hub) {
		return nil, fmt.Errorf("mongo store: %w: hub name %q must be 1-63 letters, digits, '_' or '-'",
			ErrInvalidArgument, opts.Hub)
	}
	if opts.AppName == "" {
		opts.AppName = "warren"
	}
	ops := &opCounters{}
	co := options.Client().ApplyURI(opts.URI).
		SetAppName(opts.AppName).
		SetMonitor(ops.monitor())
	if opts.ServerSelectionTimeout > 0 {
		co.SetServerSelectionTimeout(opts.ServerSelectionTimeout)
	} else if !strings.Contains(strings.ToLower(opts.URI), "serverselectiontimeoutms=") {
		co.SetServerSelectionTimeout(DefaultServerSelectionTimeout)
	}
	if opts.WriteConcernMajority {
		co.SetWriteConcern(writeconcern.Majority())
	}
	if opts.MaxPoolSize > 0 {
		co.SetMaxPoolSize(opts.MaxPoolSize)
	} else if !strings.Contains(strings.ToLower(opts.URI), "maxpoolsize=") {
		co.SetMaxPoolSize(16)
	}
	if err := co.Validate(); err != nil {
		// The driver's message may quote the URI; say only that it is malformed.
		return nil, fmt.Errorf("mongo store: %w: malformed URI", ErrInvalidArgument)
	}
	client, err := mongodrv.Connect(ctx, co)
	if err != nil {
		return nil, fmt.Errorf("mongo store: connect: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo store: server does not answer: %w", err)
	}
	if opts.PayloadInlineMax <= 0 {
		opts.PayloadInlineMax = history.DefaultPayloadInlineMax
	}
	db := client.Database(opts.Hub)
	s := &Store{
		client:    client,
		db:        db,
		instances: db.Collection(instancesCollection),
		history:   db.Collection(historyCollection, options.Collection().SetRegistry(historyRegistry)),
		hub:       db.Collection(hubCollection),
		workers:   db.Collection(workersCollection),
		payloads:  db.Collection(payloadsCollection),
		inlineMax: opts.PayloadInlineMax,
		writerID:  newWriterID(),
		ops:       ops,
	}
	ferret, err := onFerretDB(ctx, client)
	if err == nil {
		err = s.createIndexes(ctx, ferret)
	}
	if err == nil && ferret {
		s.keyedReads, err = s.filtersInDatabase(ctx)
	}
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

// Close disconnects from the server.
func (s *Store) Close(ctx context.Context) error {
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongo store: disconnect: %w", err)
	}
	return nil
}

// DropHub drops the hub's whole database: every instance, history, setting and heartbeat.
// Tests use it to clean up after themselves.
func (s *Store) DropHub(ctx context.Context) error {
	if err := s.db.Drop(ctx); err != nil {
		return fmt.Errorf("mongo store: drop hub %q: %w", s.db.Name(), err)
	}
	return nil
}
