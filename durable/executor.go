package durable

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/warrenhq/warren/history"
)

// ActionKind says what an Action asks the worker to do.
type ActionKind int

const (
	// ScheduleActivity: send an activity request (Name, Input, TaskID, Attempt).
	ScheduleActivity ActionKind = iota + 1
	// StartChild: start orchestration Name as InstanceID with a ParentRef to TaskID.
	StartChild
	// CreateTimer: deliver TimerFired{TaskID, FireAt} to this instance at FireAt.
	CreateTimer
	// SendEvent: deliver EventRaised{Name, Input} to instance InstanceID.
	SendEvent
	// TerminateChild: terminate the running child InstanceID (recursively), with Reason.
	TerminateChild
	// RewindChild: the parent was rewound (Executor.Rewind) while its child InstanceID
	// (TaskID, orchestrator Name) was open: a Failed child is rewound in turn, under the
	// parent's new execution; one that has ended otherwise reports its end again.
	RewindChild
)

func (k ActionKind) String() string {
	switch k {
	case ScheduleActivity:
		return "ScheduleActivity"
	case StartChild:
		return "StartChild"
	case CreateTimer:
		return "CreateTimer"
	case SendEvent:
		return "SendEvent"
	case TerminateChild:
		return "TerminateChild"
	case RewindChild:
		return "RewindChild"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is something the worker must send because of an episode's decisions.
type Action struct {
	Kind       ActionKind
	TaskID     int64
	Name       string          // activity, orchestrator or event name
	Input      json.RawMessage // activity or child input, event data
	InstanceID string          // child id, event target, or child to terminate
	FireAt     time.Time       // timers
	Attempt    int             // activities and children, from 1
	Reason     string          // TerminateChild
	Timeout    time.Duration   // ScheduleActivity: bound of the attempt (WithTimeout); 0 none
	// HeartbeatTimeout: ScheduleActivity's WithHeartbeatTimeout; 0 none.
	HeartbeatTimeout time.Duration
	// LastHeartbeat: ScheduleActivity's details of the last heartbeat an earlier attempt
	// of the task recorded before it failed (LastHeartbeat in the activity).
	LastHeartbeat json.RawMessage
}

// FinishedWait is a timer or an external-event wait that ended in the new part of an
// episode (never a replayed one), for tracing.
type FinishedWait struct {
	Kind   string // "timer" or "event"
	Name   string // the event name; for a retry's timer "retry <task name>"; else empty
	TaskID int64
	// Start is when the orchestrator created the timer or began to wait (the timestamp of
	// the episode that made the call), End the timestamp of the episode it ended in.
	Start, End time.Time
	TimedOut   bool // an event wait whose timeout expired
}

// Result is what one episode decided.
type Result struct {
	// NewEvents are to be appended to history for this episode: OrchestratorStarted{now},
	// the incoming events that were applied (or kept for later, while suspended), then the
	// events the orchestrator generated, then the terminal event if the execution ended.
	// Duplicates (a second result for a task) and events for unknown tasks are left out.
	NewEvents []history.Event
	// Actions are what the worker must send, in order.
	Actions []Action
	// Status is Running, Suspended, Completed, Failed, Terminated or ContinuedAsNew.
	Status       history.Status
	Output       json.RawMessage
	Failure      *history.Failure
	CustomStatus json.RawMessage
	// ContinueAsNewInput and Carried are the next execution's input and the unprocessed
	// EventRaised events it keeps (Status ContinuedAsNew only).
	ContinueAsNewInput json.RawMessage
	Carried            []history.Event
	// Finished lists the timers and event waits that ended in this episode's new part.
	Finished []FinishedWait
	// CanceledTimers are the task ids of timers, created in an earlier episode, that the
	// orchestrator cancelled in this episode's new part. Their TimerFired will be left out
	// when it comes (a worker need do nothing); durabletest forgets them.
	CanceledTimers []int64
}

// Executor runs orchestrators over their history. It holds no state between calls, so one
// Executor serves any number of instances from any number of goroutines.
type Executor struct {
	reg *Registry
}

// NewExecutor returns an executor for the orchestrators registered in r.
func NewExecutor(r *Registry) *Executor { return &Executor{reg: r} }

// Execute replays past (the committed history of the instance's current execution, in
// order) and then applies incoming (new input events, in arrival order) at time now. It is
// deterministic: the same arguments give the same Result. It emits nothing for replayed
// events, and it returns only after the orchestrator's goroutine has ended.
//
// Execute returns an error only for input it cannot run at all: a history that does not
// begin with ExecutionStarted, or an execution that has already ended. Everything that goes
// wrong inside the orchestration (an unregistered orchestrator, a panic, non-determinism)
// fails the orchestration instead: Status Failed with a Failure.
func (e *Executor) Execute(instanceID string, past, incoming []history.Event, now time.Time) (*Result, error) {
	ep := newEpisode(e.reg, instanceID, now)
	defer ep.close()
	if err := ep.run(past, incoming); err != nil {
		return nil, err
	}
	return ep.res, nil
}
