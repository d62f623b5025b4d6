package history

import (
	"encoding/json"
	"time"
)

// Status is an instance's runtime status as readers see it.
type Status string

const (
	StatusPending        Status = "Pending"
	StatusRunning        Status = "Running"
	StatusSuspended      Status = "Suspended"
	StatusCompleted      Status = "Completed"
	StatusFailed         Status = "Failed"
	StatusTerminated     Status = "Terminated"
	StatusContinuedAsNew Status = "ContinuedAsNew"
)

// Terminal reports whether an instance in this status will never run again.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusTerminated
}

// Instance is what the store keeps about one orchestration instance.
type Instance struct {
	InstanceID       string          `json:"instanceId" bson:"_id"`
	Name             string          `json:"name" bson:"name"`
	ExecutionID      string          `json:"executionId" bson:"executionId"`
	Status           Status          `json:"status" bson:"status"`
	Input            json.RawMessage `json:"input,omitempty" bson:"input,omitempty"`
	Output           json.RawMessage `json:"output,omitempty" bson:"output,omitempty"`
	Failure          *Failure        `json:"failure,omitempty" bson:"failure,omitempty"`
	CustomStatus     json.RawMessage `json:"customStatus,omitempty" bson:"customStatus,omitempty"`
	ParentInstanceID string          `json:"parentInstanceId,omitempty" bson:"parentInstanceId,omitempty"`
	TraceID          string          `json:"traceId,omitempty" bson:"traceId,omitempty"`
	CreatedAt        time.Time       `json:"createdAt" bson:"createdAt"`
	LastUpdatedAt    time.Time       `json:"lastUpdatedAt" bson:"lastUpdatedAt"`
	// LastEpisode is the number of the last committed episode of ExecutionID.
	LastEpisode int64 `json:"lastEpisode" bson:"lastEpisode"`
	// Executions counts the instance's executions, from 1: continue-as-new and a retried
	// child's new attempt each begin one more. With LastEpisode and the status it orders
	// the versions of the document (see [Instance.Newer]).
	Executions int64 `json:"executions,omitempty" bson:"executions,omitempty"`
	// RewoundFrom is the failed execution that ExecutionID was rewound from, on a rewound
	// execution's document: a worker that finds the document written and the execution's
	// first episode not committed (its worker died in between) rewinds that one again.
	RewoundFrom string `json:"rewoundFrom,omitempty" bson:"rewoundFrom,omitempty"`
}

// Newer reports whether a is a later version of an instance document than b: a later
// execution, a later episode of the same execution, or at the same episode a status further
// along (Pending, then Running or Suspended, then an ended one). [Store.UpdateInstance]
// never replaces a document by an older version, so a writer that lost a race (a worker that
// just lost its partition) cannot turn Completed back into Running.
func (a *Instance) Newer(b *Instance) bool {
	if a.Executions != b.Executions {
		return a.Executions > b.Executions
	}
	if a.LastEpisode != b.LastEpisode {
		return a.LastEpisode > b.LastEpisode
	}
	return a.Status.rank() > b.Status.rank()
}

// SameIncarnation reports whether a and b are documents of one incarnation of an instance
// id: created at the same millisecond (what a store keeps of a creation time). An id purged
// and created again is a new incarnation whose versions start over, so a write of the old
// one that lands late (a worker's read-model write owed since before the purge) must not
// count as a newer version of the new one ([Store.UpdateInstances] refuses it).
func SameIncarnation(a, b *Instance) bool {
	return a.CreatedAt.Truncate(time.Millisecond).Equal(b.CreatedAt.Truncate(time.Millisecond))
}

// rank orders statuses within one episode of one execution.
func (s Status) rank() int {
	switch s {
	case StatusPending:
		return 0
	case StatusRunning, StatusSuspended:
		return 1
	default:
		return 2
	}
}

// Episode is one run of an orchestrator over a batch of new messages: the events it added
// and the messages it decided to send. Inserting it is the commit point of that run.
type Episode struct {
	InstanceID  string          `json:"instanceId" bson:"instanceId"`
	ExecutionID string          `json:"executionId" bson:"executionId"`
	Number      int64           `json:"number" bson:"number"`
	Events      []Event         `json:"events" bson:"events"`
	Outbox      []OutboxMessage `json:"outbox,omitempty" bson:"outbox,omitempty"`
	// Consumed lists the ids of the messages this episode consumed.
	Consumed    []string  `json:"consumed,omitempty" bson:"consumed,omitempty"`
	CommittedAt time.Time `json:"committedAt" bson:"committedAt"`
	// Chained marks an episode that consumed the result of an activity its worker ran in
	// place (worker/eager.go): no broker message stands behind its inputs, so a redelivered
	// input of an earlier episode of the instance publishes its outbox again too.
	Chained bool `json:"chained,omitempty" bson:"chained,omitempty"`
	// Payloads are written by CommitEpisodes before the episode (the large inputs its
	// outbox's messages refer to); they are not part of the stored episode.
	Payloads []Payload `json:"-" bson:"-"`
}

// OutboxMessage is a message an episode decided to send, kept with the episode so that it
// can be published again if the acks of the episode's inputs were lost.
type OutboxMessage struct {
	ID string `json:"id" bson:"id"`
	// Kind is the message type: the worker routes on it (activity invocations to the
	// work-item queue, everything else to the target instance's control queue).
	Kind string `json:"kind" bson:"kind"`
	// InstanceID is the instance the message is for.
	InstanceID string `json:"instanceId" bson:"instanceId"`
	Body       []byte `json:"body" bson:"body"`
	// DueAt, when set, delays delivery (durable timers, retry waits).
	DueAt time.Time     `json:"dueAt,omitzero" bson:"dueAt,omitempty"`
	Trace *TraceContext `json:"trace,omitempty" bson:"trace,omitempty"`
}

// WorkerInfo is a worker's heartbeat record.
type WorkerInfo struct {
	WorkerID      string   `json:"workerId" bson:"_id"`
	Host          string   `json:"host" bson:"host"`
	Orchestrators []string `json:"orchestrators" bson:"orchestrators"`
	Activities    []string `json:"activities" bson:"activities"`
	// HeartbeatAt is the store's time of the last heartbeat; the store sets it.
	HeartbeatAt time.Time `json:"heartbeatAt" bson:"heartbeatAt"`
	StartedAt   time.Time `json:"startedAt" bson:"startedAt"`
	// ActivityConcurrency is how many activities the worker runs at once (0: not said).
	ActivityConcurrency int `json:"activityConcurrency,omitempty" bson:"activityConcurrency,omitempty"`
	// StoreOps are the commands the worker's store has sent since it started, when its
	// store counts them (benchmarks read them; see OpCounts).
	StoreOps *OpCounts `json:"storeOps,omitempty" bson:"storeOps,omitempty"`
	// SchemaVersion is the newest event schema the worker reads ([SchemaVersion] of its
	// build; 0 from a build before workers said it, which reads version 1).
	SchemaVersion int `json:"schemaVersion,omitempty" bson:"schemaVersion,omitempty"`
}
