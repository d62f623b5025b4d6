// Package history is Warren's event model: the events an orchestration's history is made of,
// the [Instance] and [Episode] records the store keeps, and the [Store] interface the worker
// and the dispatcher consume. It knows nothing of RabbitMQ or MongoDB.
//
// A worker reads an instance's history with [Store.LoadHistory] and appends an episode's
// events with [Store.CommitEpisodes], which refuses a second writer of the same episode
// number ([ErrEpisodeConflict]); the instance document is a read model written after it
// ([Store.UpdateInstances]). Implementations: history/mongo (MongoDB, FerretDB) and
// history/memstore, both checked by history/storetest (docs/design.md section 4).
package history

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the newest version of the event model this build reads and writes;
// decoders refuse events of a newer version. A release that adds an event kind, or a field
// an older build would misread, raises it and writes the new version only on the events that
// use what it added (VersionOf): every other event stays readable by the build before. Each
// worker's heartbeat says its version ([WorkerInfo.SchemaVersion]), so an older worker
// knows whether a newer one is live to hand such events on to.
//
// Version 2 added ExecutionRewound (and the RewoundFrom of the execution it begins).
// Version 3 added payload refs (PayloadVersion).
// Version 4 added chained episodes (Episode.Chained: activities run in place) and the
// events a continue-as-new start carries. It writes no event of version 4: a worker of
// version 3 reads everything, but would not send again the outboxes of chained episodes,
// so workers run activities in place only while none older is live.
const SchemaVersion = 4

// Kind names what an event records. The string values are stored and must never change.
type Kind string

const (
	ExecutionStarted          Kind = "ExecutionStarted"
	ExecutionCompleted        Kind = "ExecutionCompleted"
	ExecutionFailed           Kind = "ExecutionFailed"
	ExecutionTerminated       Kind = "ExecutionTerminated"
	ExecutionSuspended        Kind = "ExecutionSuspended"
	ExecutionResumed          Kind = "ExecutionResumed"
	ContinuedAsNew            Kind = "ContinuedAsNew"
	OrchestratorStarted       Kind = "OrchestratorStarted"
	TaskScheduled             Kind = "TaskScheduled"
	TaskCompleted             Kind = "TaskCompleted"
	TaskFailed                Kind = "TaskFailed"
	SubOrchestrationCreated   Kind = "SubOrchestrationCreated"
	SubOrchestrationCompleted Kind = "SubOrchestrationCompleted"
	SubOrchestrationFailed    Kind = "SubOrchestrationFailed"
	TimerCreated              Kind = "TimerCreated"
	TimerFired                Kind = "TimerFired"
	EventRaised               Kind = "EventRaised"
	EventSent                 Kind = "EventSent"
	// PatchMarker records that an execution took the new branch of a patch
	// (OrchestrationContext.IsPatched); Name is the patch id.
	PatchMarker Kind = "PatchMarker"
	// ExecutionRewound asks a Failed instance to run again from just before its failure
	// (a control message: ExecutionID is the new execution's id, Parent the new parent of
	// a child rewound with its parent, Trace the new orchestration span), and records in
	// the new execution's history where the failed execution's events it keeps end.
	ExecutionRewound Kind = "ExecutionRewound"
)

// Event is one entry of an orchestration's history. It is one flat record for every kind;
// the comment on each field says which kinds use it. Unused fields stay at their zero value
// and are omitted from JSON and BSON.
type Event struct {
	Version   int       `json:"v" bson:"v"`
	Kind      Kind      `json:"kind" bson:"kind"`
	Timestamp time.Time `json:"ts" bson:"ts"`

	// TaskID correlates a scheduling event with its outcome: TaskScheduled/Completed/Failed,
	// SubOrchestrationCreated/Completed/Failed, TimerCreated/Fired, EventSent.
	TaskID int64 `json:"taskId,omitempty" bson:"taskId,omitempty"`
	// Name is the orchestrator (ExecutionStarted, SubOrchestrationCreated), activity
	// (TaskScheduled), event name (EventRaised, EventSent), or patch id (PatchMarker).
	Name string `json:"name,omitempty" bson:"name,omitempty"`
	// Input is the orchestration or activity input, or an event's data.
	Input json.RawMessage `json:"input,omitempty" bson:"input,omitempty"`
	// Result is the output of a completed task, child or execution.
	Result json.RawMessage `json:"result,omitempty" bson:"result,omitempty"`
	// InputRef and ResultRef, when set, stand for an Input or Result kept beside the
	// history as a payload (history/payload.go); the store puts them back in place when it
	// loads the history, and a worker when it receives a message that holds one.
	InputRef  *PayloadRef `json:"inputRef,omitempty" bson:"inputRef,omitempty"`
	ResultRef *PayloadRef `json:"resultRef,omitempty" bson:"resultRef,omitempty"`
	// Failure says why a task, child or execution failed.
	Failure *Failure `json:"failure,omitempty" bson:"failure,omitempty"`
	// InstanceID is the child (SubOrchestrationCreated) or the target (EventSent).
	InstanceID string `json:"instanceId,omitempty" bson:"instanceId,omitempty"`
	// ExecutionID identifies one execution of an instance (ExecutionStarted, ContinuedAsNew).
	ExecutionID string `json:"executionId,omitempty" bson:"executionId,omitempty"`
	// Parent is set on a child's ExecutionStarted (and on the ExecutionRewound that
	// rewinds a child with its parent).
	Parent *ParentRef `json:"parent,omitempty" bson:"parent,omitempty"`
	// RewoundFrom, on an ExecutionStarted, lists the failed executions this one was
	// rewound from, oldest first: late results addressed to them are this execution's.
	RewoundFrom []string `json:"rewoundFrom,omitempty" bson:"rewoundFrom,omitempty"`
	// Trace carries the W3C context of the caller and the span id chosen for the
	// orchestration span (ExecutionStarted), or the context of a scheduling event.
	Trace *TraceContext `json:"trace,omitempty" bson:"trace,omitempty"`
	// FireAt is when a timer is due (TimerCreated, TimerFired); on ExecutionStarted the
	// scheduled start time, if any.
	FireAt time.Time `json:"fireAt,omitzero" bson:"fireAt,omitempty"`
	// Reason is why an execution was terminated, suspended or resumed.
	Reason string `json:"reason,omitempty" bson:"reason,omitempty"`
	// Recursive asks ExecutionTerminated to terminate the instance's running children too.
	Recursive bool `json:"recursive,omitempty" bson:"recursive,omitempty"`
	// Attempt counts the tries of a retried task, from 1 (TaskScheduled,
	// SubOrchestrationCreated).
	Attempt int `json:"attempt,omitempty" bson:"attempt,omitempty"`
	// Carried holds the unprocessed EventRaised events a ContinuedAsNew hands to the next
	// execution.
	Carried []Event `json:"carried,omitempty" bson:"carried,omitempty"`
	// MessageID is the id of the message that delivered this event (inputs only); the
	// worker uses it to recognise redeliveries.
	MessageID string `json:"messageId,omitempty" bson:"messageId,omitempty"`
}

// Failure describes an error that crossed a task boundary.
type Failure struct {
	Type    string   `json:"type" bson:"type"`
	Message string   `json:"message" bson:"message"`
	Stack   string   `json:"stack,omitempty" bson:"stack,omitempty"`
	Cause   *Failure `json:"cause,omitempty" bson:"cause,omitempty"`
	// NonRetriable says that trying the task again cannot help (an activity no live worker
	// registers): the task fails whatever its retry policy.
	NonRetriable bool `json:"nonRetriable,omitempty" bson:"nonRetriable,omitempty"`
	// Details are the last heartbeat details (durable.Heartbeat) of the activity attempt
	// that failed, as JSON; the task's next attempt reads them (durable.LastHeartbeat).
	Details json.RawMessage `json:"details,omitempty" bson:"details,omitempty"`
}

// Error is the failure with its whole cause chain: "Type: message (caused by Type:
// message) ...".
func (f *Failure) Error() string {
	s := f.Type + ": " + f.Message
	for c := f.Cause; c != nil; c = c.Cause {
		s += " (caused by " + c.Type + ": " + c.Message + ")"
	}
	return s
}

// Unwrap returns the cause, so that errors.As walks a chain of failures.
func (f *Failure) Unwrap() error {
	if f.Cause == nil {
		return nil
	}
	return f.Cause
}

// ParentRef ties a child orchestration to the task in its parent that awaits it.
type ParentRef struct {
	InstanceID  string `json:"instanceId" bson:"instanceId"`
	ExecutionID string `json:"executionId" bson:"executionId"`
	TaskID      int64  `json:"taskId" bson:"taskId"`
	Name        string `json:"name" bson:"name"`
}

// TraceContext is W3C trace context kept in history so spans can be continued later,
// elsewhere.
type TraceContext struct {
	TraceParent string `json:"traceparent,omitempty" bson:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty" bson:"tracestate,omitempty"`
	// SpanID is the id (16 hex digits) fixed at creation for the orchestration span.
	SpanID string `json:"spanId,omitempty" bson:"spanId,omitempty"`
}
