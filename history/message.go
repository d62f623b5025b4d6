package history

import (
	"encoding/json"
	"time"
)

// MessageKindActivity is the type of a work-item message (an ActivityRequest). Every other
// message is a control message whose type is the Kind of the event it carries.
const MessageKindActivity = "ActivityRequest"

// MessageKindEnded is the type of the announcement a worker makes when it has committed the
// end of an instance's execution (Completed, Failed or Terminated). Its body, when not
// empty, is the instance document as it will be written (JSON of [Instance]): a waiter
// answers from it without reading the store, whose document may lag. An empty body (an
// output too large to announce) is sent once the document is written.
const MessageKindEnded = "InstanceEnded"

// MessageKindChanged is the type of the announcement a dispatcher makes when it has made an
// ended instance something else: sent it a new execution (restart, rewind), purged it, or
// replaced it with a new start under the same id. Every dispatcher then forgets the ended
// documents it keeps of that instance, or of every instance when InstanceID is empty (a
// bulk or recursive purge), and a wait reads the store again.
const MessageKindChanged = "InstanceChanged"

// ControlMessage delivers one event to an instance through its partition's control queue.
type ControlMessage struct {
	InstanceID string `json:"instanceId"`
	// ExecutionID, when set, is the execution the event is for; an event for an older
	// execution (a late timer after continue-as-new) is dropped.
	ExecutionID string `json:"executionId,omitempty"`
	Event       Event  `json:"event"`
	// Recorded, on an ExecutionStarted, is the execution number ([Instance.Executions])
	// under which the sender has already written this execution into the instance document
	// (the dispatcher creates the document before it sends the start). A worker then begins
	// the execution without reading the store: should the instance hold this execution's
	// history already, committing its first episode fails with a duplicate key, and only
	// then does the worker read. Zero when the document is the worker's to write (a
	// sub-orchestration, continue-as-new).
	Recorded int64 `json:"recorded,omitempty"`
	// Execution, on the ExecutionStarted of a continue-as-new, is the number
	// ([Instance.Executions]) the new execution takes: one more than the execution that sent
	// it. A worker whose instance is at that number or past it drops the start as a late copy
	// (it was redelivered after the execution began, and perhaps after more continue-as-news
	// or a restart), where it would otherwise begin it again. Zero for other starts, and from
	// workers of earlier releases.
	Execution int64 `json:"execution,omitempty"`
}

// ActivityRequest asks any worker to run one attempt of an activity.
type ActivityRequest struct {
	// Version, when set, is the schema version a worker needs to run the request: a release
	// that adds something an older worker would misread sets it (and raises SchemaVersion);
	// 0 means version 1.
	Version           int             `json:"v,omitempty"`
	InstanceID        string          `json:"instanceId"`
	ExecutionID       string          `json:"executionId"`
	OrchestrationName string          `json:"orchestrationName"`
	TaskID            int64           `json:"taskId"`
	Name              string          `json:"name"`
	Input             json.RawMessage `json:"input,omitempty"`
	// InputRef stands for an Input kept as a payload (Version PayloadVersion).
	InputRef *PayloadRef   `json:"inputRef,omitempty"`
	Attempt  int           `json:"attempt"`
	Trace    *TraceContext `json:"trace,omitempty"`
	// Timeout bounds the attempt from start to close (nanoseconds; 0: none).
	Timeout time.Duration `json:"timeout,omitempty"`
	// HeartbeatTimeout is how long the attempt may go without a heartbeat (nanoseconds;
	// 0: no limit).
	HeartbeatTimeout time.Duration `json:"heartbeatTimeout,omitempty"`
	// LastHeartbeat are the last heartbeat details an earlier attempt of the task recorded
	// before it failed (none on a first attempt).
	LastHeartbeat json.RawMessage `json:"lastHeartbeat,omitempty"`
}
