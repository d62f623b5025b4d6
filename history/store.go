package history

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrInstanceExists is returned by [Store.CreateInstance] when the id is taken.
	ErrInstanceExists = errors.New("history: instance already exists")
	// ErrInstanceNotFound is returned when no instance has the id asked for.
	ErrInstanceNotFound = errors.New("history: instance not found")
	// ErrEpisodeConflict is returned by [Store.CommitEpisodes] when another worker committed
	// an episode of the same number first: this worker's batch lost and must not publish.
	ErrEpisodeConflict = errors.New("history: episode already committed by another worker")
	// ErrNotTerminal is returned by a purge of an instance that has not ended.
	ErrNotTerminal = errors.New("history: instance is not in a terminal state")
	// ErrPartitionMismatch is returned by [Store.EnsureHub] when the partition count asked
	// for differs from the one the hub was created with.
	ErrPartitionMismatch = errors.New("history: partition count differs from the hub's")
	// ErrStaleInstance is returned by UpdateInstance when the store holds a newer version
	// of the document ([Instance.Newer]); nothing was written.
	ErrStaleInstance = errors.New("history: the stored instance document is newer")
	// ErrTooLarge is returned when a record exceeds what the store can keep in one document
	// (16 MiB in MongoDB). Trying again cannot help.
	ErrTooLarge = errors.New("history: record too large for the store")
	// ErrInvalidArgument is returned for a record the store refuses whatever its state (an
	// empty or over-long id, a NUL byte in any string, which FerretDB on PostgreSQL cannot
	// keep). Trying again cannot help.
	ErrInvalidArgument = errors.New("history: invalid argument")
)

// ListFilter selects instances; zero fields match everything.
type ListFilter struct {
	Statuses    []Status
	Name        string
	ParentID    string
	CreatedFrom time.Time // inclusive
	CreatedTo   time.Time // exclusive
	PageSize    int       // default 100
	Cursor      string    // from the previous page; empty for the first
}

// ExecutionRef names one execution of an instance.
type ExecutionRef struct {
	InstanceID  string
	ExecutionID string
}

// Store keeps instances, their histories and the hub's shared settings. history/mongo
// implements it on MongoDB or FerretDB, history/memstore in memory (for the simulation and
// unit tests); the worker and the dispatcher consume it. history/storetest is the suite
// every implementation passes, and the contract's details are written down there.
//
// Ids (instance, execution, worker) are 1 to 1024 bytes of UTF-8 without NUL; one record
// (an instance, an episode) encodes to at most 16 MiB less 1 KiB of BSON. Anything else
// is refused up front with ErrInvalidArgument or ErrTooLarge.
type Store interface {
	// EnsureHub records the partition count on first use and returns ErrPartitionMismatch
	// (wrapped, naming both counts) when the hub already has another.
	EnsureHub(ctx context.Context, partitions int) error

	CreateInstance(ctx context.Context, inst *Instance) error // ErrInstanceExists
	// CreateInstances inserts many new instances in one round trip, each on its own:
	// errs[i] is nil when insts[i] was created, wraps ErrInstanceExists when its id was
	// taken, and is another error otherwise (after which it may or may not exist). The
	// dispatcher creates the documents of starts that arrive together with it.
	CreateInstances(ctx context.Context, insts []*Instance) (errs []error)
	GetInstance(ctx context.Context, instanceID string) (*Instance, error)
	// GetInstances returns the documents of many instances, by id, with one query for the
	// lot (a worker loads with it the states its cache lacks, as after a fault); an id with
	// no document is absent from the map.
	GetInstances(ctx context.Context, instanceIDs []string) (map[string]*Instance, error)
	ListInstances(ctx context.Context, f ListFilter) (page []Instance, next string, err error)
	// UpdateInstance replaces the document unless the stored one is newer
	// ([Instance.Newer]; then ErrStaleInstance). Writes are monotonic even where the store's
	// conditional updates race: a writer that may have overwritten a newer version reads
	// back and repairs.
	UpdateInstance(ctx context.Context, inst *Instance) error
	// UpdateInstances writes what readers see of many instance documents in one round trip:
	// the status, output, failure, custom status, execution id and counters and the last
	// update time, unless the stored version is newer ([Instance.Newer]; then errs[i] wraps
	// ErrStaleInstance). The other fields (name, input, creation time, parent, trace) are
	// left as the document's creator wrote them. errs[i] wraps ErrInstanceNotFound when
	// there is no document, or when the stored one is of another incarnation
	// ([SameIncarnation]: created at another time, as an id purged and created again is). Workers write the read model through it, batched and
	// coalesced; unlike UpdateInstance it does not read each document back, so on FerretDB
	// two processes writing one document within the same milliseconds can leave the older
	// version (the next owner of its partition repairs it from the history).
	UpdateInstances(ctx context.Context, docs []*Instance) (errs []error)
	// Purge deletes a terminal instance and its history (ErrNotTerminal otherwise). It
	// never erases a new execution's history: it lists the executions that have history,
	// deletes the document only while it is terminal, then only the listed executions'
	// history.
	Purge(ctx context.Context, instanceID string) error
	// PurgeInstances deletes the ended instances that match f, and their histories, in
	// batches, and returns how many it deleted. Each batch keeps Purge's order, so it
	// never erases a new execution's history. It goes by the documents' status, which may
	// lag the history by about a second: an instance whose document still says Running is
	// not purged by this call. A filter no instance can satisfy (a status that is not
	// terminal: [PurgeFilter.PurgeStatuses]) wraps ErrInvalidArgument and deletes nothing.
	// After an error, the batches before it stay purged.
	PurgeInstances(ctx context.Context, f PurgeFilter) (purged int, err error)

	// LoadHistory returns the committed episodes of one execution in episode order.
	LoadHistory(ctx context.Context, instanceID, executionID string) ([]Episode, error)
	// LoadHistories returns the committed episodes of many executions, each in episode
	// order, with one query for the lot (a worker that takes a partition warms its cache
	// with it). An execution without history is absent from the map.
	LoadHistories(ctx context.Context, refs []ExecutionRef) (map[ExecutionRef][]Episode, error)
	// CommitEpisodes inserts the episodes in one round trip; errs[i] is nil, or
	// ErrEpisodeConflict when that episode number was already taken, or another error.
	CommitEpisodes(ctx context.Context, eps []*Episode) (errs []error)

	// Heartbeat writes the worker's record stamped with the store's clock; w.HeartbeatAt
	// is ignored, so that no worker's clock decides liveness.
	Heartbeat(ctx context.Context, w WorkerInfo) error
	RemoveWorker(ctx context.Context, workerID string) error
	// LiveWorkers returns, by id, the workers whose heartbeat is newer than the store's
	// time less maxAge.
	LiveWorkers(ctx context.Context, maxAge time.Duration) ([]WorkerInfo, error)

	// PayloadStore keeps inputs and outputs too large to sit inline (history/payload.go):
	// CommitEpisodes writes an episode's payloads (Episode.Payloads, and its events'
	// inputs and results over the store's inline limit, which it keeps as refs) before
	// the episode; LoadHistory and LoadHistories put them back in place; Purge and
	// PurgeInstances delete them with the executions whose history they delete.
	PayloadStore
}
