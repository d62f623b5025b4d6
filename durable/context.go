package durable

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/retrypolicy"
)

// OrchestrationContext is an orchestrator's view of its instance and its only way to act:
// every call that has an effect outside the orchestrator goes through it, so that replay
// can match the call against history. Orchestrator code must be deterministic: take time
// from CurrentTime, ids from NewUUID, and never use goroutines, the clock, randomness, or
// I/O directly.
type OrchestrationContext struct {
	ep *episode
}

// InstanceID is the orchestration's instance id.
func (c *OrchestrationContext) InstanceID() string { return c.ep.instanceID }

// ExecutionID identifies the current execution of the instance (it changes with
// ContinueAsNew and when a retried child runs again).
func (c *OrchestrationContext) ExecutionID() string { return c.ep.executionID }

// Name is the orchestrator's registered name.
func (c *OrchestrationContext) Name() string { return c.ep.started.Name }

// Parent is the parent orchestration's reference for a sub-orchestration, else nil.
func (c *OrchestrationContext) Parent() *history.ParentRef { return c.ep.started.Parent }

// CurrentTime is the time of the episode being run: the timestamp of its
// OrchestratorStarted event, the same on every replay.
func (c *OrchestrationContext) CurrentTime() time.Time { return c.ep.clock }

// IsReplaying reports whether the orchestrator is re-running a part of its history that
// was already committed (use it to avoid repeating side effects such as logging).
func (c *OrchestrationContext) IsReplaying() bool { return c.ep.replaying }

// NewUUID returns a UUID (version 5, name-based) made from the instance id, the execution
// id and how many UUIDs this execution has made before: unique, and the same on replay.
func (c *OrchestrationContext) NewUUID() string {
	c.ep.uuids++
	return nameUUID(uuidName(c.ep.instanceID, c.ep.executionID, c.ep.uuids))
}

// SetCustomStatus sets a JSON value readers see in the instance's status. Replay sets it
// again, so the latest call wins.
func (c *OrchestrationContext) SetCustomStatus(v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the custom status: %w", err)
	}
	c.ep.customStatus = raw
	return nil
}

// ContinueAsNew asks for the instance to start over, once the orchestrator returns (what it
// returns is then ignored), as a new execution with input and an empty history. With
// KeepEvents, external events nobody has waited for yet are handed to the new execution.
func (c *OrchestrationContext) ContinueAsNew(input any, opts ...ContinueAsNewOption) {
	var o continueAsNewOptions
	for _, opt := range opts {
		opt(&o)
	}
	raw, err := json.Marshal(input)
	if err != nil {
		err = fmt.Errorf("encoding the input of ContinueAsNew: %w", err)
	}
	c.ep.can = &continueAsNew{input: raw, keep: o.keepEvents, err: err}
}

// ContinueAsNewOption configures ContinueAsNew.
type ContinueAsNewOption func(*continueAsNewOptions)

type continueAsNewOptions struct{ keepEvents bool }

// KeepEvents hands the external events nobody has waited for yet to the next execution,
// in the order they arrived; without it they are dropped.
func KeepEvents() ContinueAsNewOption {
	return func(o *continueAsNewOptions) { o.keepEvents = true }
}

// CallOption configures CallActivity and CallSubOrchestrator.
type CallOption func(*callOptions)

type callOptions struct {
	retry      *retrypolicy.Policy
	instanceID string
	timeout    time.Duration
	heartbeat  time.Duration
}

// WithRetry retries a failed activity or sub-orchestration under policy; the wait between
// attempts is a durable timer, and each attempt gets a new task id. A failure marked
// NonRetriable (an activity no live worker registers) is not retried.
func WithRetry(policy retrypolicy.Policy) CallOption {
	return func(o *callOptions) { o.retry = &policy }
}

// WithInstanceID gives a sub-orchestration this instance id instead of the default
// "<parent id>:<task id>". Every retry of the child keeps it.
func WithInstanceID(id string) CallOption {
	return func(o *callOptions) { o.instanceID = id }
}

// WithTimeout bounds each attempt of an activity from start to close: an attempt still
// running after d fails with a Timeout failure (the task's error errors.Is ErrTimeout),
// and the retry policy decides what follows. The activity's context is cancelled at d; an
// activity that ignores it runs on, and its result is dropped. Activities only.
func WithTimeout(d time.Duration) CallOption {
	return func(o *callOptions) { o.timeout = d }
}

// WithHeartbeatTimeout makes an activity attempt that goes d without calling Heartbeat
// count as lost: its context is cancelled and it fails with a HeartbeatTimeout failure
// (naming the last heartbeat's details), and the retry policy decides what follows; the
// next attempt may run on any worker. Activities only.
func WithHeartbeatTimeout(d time.Duration) CallOption {
	return func(o *callOptions) { o.heartbeat = d }
}

// CallActivity schedules activity name with input (encoded to JSON).
func (c *OrchestrationContext) CallActivity(name string, input any, opts ...CallOption) Task {
	return c.call(false, name, input, opts)
}

// CallSubOrchestrator starts orchestrator name as a child and returns a task for its
// output. A failed child fails the task with a *TaskFailedError carrying the child's error.
func (c *OrchestrationContext) CallSubOrchestrator(name string, input any, opts ...CallOption) Task {
	return c.call(true, name, input, opts)
}

func (c *OrchestrationContext) call(child bool, name string, input any, opts []CallOption) Task {
	ep := c.ep
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	raw, err := json.Marshal(input)
	if err != nil {
		return doneTask(ep, nil, fmt.Errorf("encoding the input of %q: %w", name, err))
	}
	if o.retry != nil {
		if err := o.retry.Validate(); err != nil {
			return doneTask(ep, nil, fmt.Errorf("calling %q: %w", name, err))
		}
	}
	switch {
	case o.timeout < 0:
		return doneTask(ep, nil, fmt.Errorf("calling %q: WithTimeout(%s): want a positive duration", name, o.timeout))
	case o.heartbeat < 0:
		return doneTask(ep, nil, fmt.Errorf("calling %q: WithHeartbeatTimeout(%s): want a positive duration", name, o.heartbeat))
	case (o.timeout > 0 || o.heartbeat > 0) && child:
		return doneTask(ep, nil, fmt.Errorf("calling sub-orchestrator %q: WithTimeout and WithHeartbeatTimeout apply to activities only", name))
	}
	if child && o.instanceID != "" {
		// No store could keep the child (nor the parent's history naming it): the call
		// fails here, the same way on every replay.
		if err := history.CheckInstanceID(o.instanceID); err != nil {
			return doneTask(ep, nil, fmt.Errorf("calling sub-orchestrator %q: %w", name, err))
		}
	}
	tc := &taskCall{ep: ep, child: child, name: name, input: raw, instanceID: o.instanceID,
		policy: o.retry, timeout: o.timeout, heartbeat: o.heartbeat, firstAt: ep.clock, t: &task{ep: ep}}
	tc.attempt(1)
	return tc.t
}

// taskCall is an activity or sub-orchestration call with its retries.
type taskCall struct {
	ep         *episode
	child      bool
	name       string
	input      json.RawMessage
	instanceID string
	policy     *retrypolicy.Policy
	timeout    time.Duration
	heartbeat  time.Duration
	firstAt    time.Time
	t          *task
	// lastHeartbeat are the last details a failed attempt recorded, for the next one.
	lastHeartbeat json.RawMessage
}

func (tc *taskCall) attempt(n int) {
	ep := tc.ep
	id := ep.newID()
	oc := &openCall{}
	if tc.child {
		if tc.instanceID == "" {
			tc.instanceID = ep.instanceID + ":" + strconv.FormatInt(id, 10)
		}
		ep.schedule(
			history.Event{Kind: history.SubOrchestrationCreated, TaskID: id, Name: tc.name, Input: tc.input, InstanceID: tc.instanceID, Attempt: n},
			Action{Kind: StartChild, TaskID: id, Name: tc.name, Input: tc.input, InstanceID: tc.instanceID, Attempt: n})
		oc.accepts = [2]history.Kind{history.SubOrchestrationCompleted, history.SubOrchestrationFailed}
		oc.child = tc.instanceID
	} else {
		ep.schedule(
			history.Event{Kind: history.TaskScheduled, TaskID: id, Name: tc.name, Input: tc.input, Attempt: n},
			Action{Kind: ScheduleActivity, TaskID: id, Name: tc.name, Input: tc.input, Attempt: n, Timeout: tc.timeout, HeartbeatTimeout: tc.heartbeat,
				LastHeartbeat: tc.lastHeartbeat})
		oc.accepts = [2]history.Kind{history.TaskCompleted, history.TaskFailed}
	}
	oc.handle = func(ev *history.Event) { tc.outcome(n, id, ev) }
	ep.open[id] = oc
}

func (tc *taskCall) outcome(n int, id int64, ev *history.Event) {
	if ev.Kind == history.TaskCompleted || ev.Kind == history.SubOrchestrationCompleted {
		tc.t.complete(ev.Result, nil)
		return
	}
	kind := "activity"
	if tc.child {
		kind = "sub-orchestration"
	}
	err := newTaskFailedError(kind, tc.name, id, ev.Failure)
	if d := heartbeatDetails(ev.Failure); d != nil {
		tc.lastHeartbeat = d
	}
	ep := tc.ep
	p := tc.policy
	if p == nil || n >= p.MaxAttempts || (ev.Failure != nil && ev.Failure.NonRetriable) || (p.Handle != nil && !p.Handle(err)) {
		tc.t.complete(nil, err)
		return
	}
	fireAt := ep.clock.Add(p.Delay(n))
	if p.RetryTimeout > 0 && fireAt.Sub(tc.firstAt) > p.RetryTimeout {
		tc.t.complete(nil, err)
		return
	}
	// The wait is a durable timer with its own task id; the next attempt gets another.
	tid := ep.newID()
	ep.schedule(history.Event{Kind: history.TimerCreated, TaskID: tid, FireAt: fireAt},
		Action{Kind: CreateTimer, TaskID: tid, FireAt: fireAt})
	start := ep.clock
	ep.open[tid] = &openCall{accepts: [2]history.Kind{history.TimerFired}, handle: func(*history.Event) {
		ep.finished("timer", "retry "+tc.name, tid, start, false)
		tc.attempt(n + 1)
	}}
}

// heartbeatDetails are the heartbeat details a failure carries, the outermost first (the
// worker wraps an attempt cancelled with its instance around the attempt's own failure).
func heartbeatDetails(f *history.Failure) json.RawMessage {
	for ; f != nil; f = f.Cause {
		if len(f.Details) > 0 {
			return f.Details
		}
	}
	return nil
}

// CreateTimer returns a task that finishes d after CurrentTime, on a durable timer. Cancel
// it when it is no longer wanted (the losing timer of a WhenAny, say): it then fails with
// ErrCanceled, and its firing is kept out of history.
func (c *OrchestrationContext) CreateTimer(d time.Duration) TimerTask {
	ep := c.ep
	t := &timerTask{task: &task{ep: ep}}
	id := ep.newID()
	start := ep.clock
	fireAt := start.Add(d)
	ep.schedule(history.Event{Kind: history.TimerCreated, TaskID: id, FireAt: fireAt},
		Action{Kind: CreateTimer, TaskID: id, FireAt: fireAt})
	ep.open[id] = &openCall{accepts: [2]history.Kind{history.TimerFired}, handle: func(*history.Event) {
		ep.finished("timer", "", id, start, false)
		t.complete(nil, nil)
	}}
	t.id = id
	return t
}

// WaitForExternalEvent returns a task for the next external event called name; its result
// is the event's data. Events that arrived before the wait are kept and handed out in
// arrival order, one per wait. A timeout above zero arms a durable timer: if it fires first,
// the task fails with an error that errors.Is ErrTimeout. Zero waits forever.
func (c *OrchestrationContext) WaitForExternalEvent(name string, timeout time.Duration) Task {
	ep := c.ep
	t := &task{ep: ep}
	id := ep.newID()
	if buf := ep.buffered[name]; len(buf) > 0 {
		ep.buffered[name] = buf[1:]
		if len(buf) == 1 {
			delete(ep.buffered, name)
		}
		ep.finished("event", name, id, ep.clock, false)
		t.complete(buf[0].ev.Input, nil)
		return t
	}
	w := &eventWait{name: name, id: id, start: ep.clock, t: t}
	ep.waiters[name] = append(ep.waiters[name], w)
	if timeout > 0 {
		fireAt := ep.clock.Add(timeout)
		ep.schedule(history.Event{Kind: history.TimerCreated, TaskID: id, FireAt: fireAt},
			Action{Kind: CreateTimer, TaskID: id, FireAt: fireAt})
		ep.open[id] = &openCall{accepts: [2]history.Kind{history.TimerFired}, handle: func(*history.Event) {
			if t.done {
				return
			}
			ws := ep.waiters[name]
			for i, x := range ws {
				if x == w {
					ep.waiters[name] = append(ws[:i:i], ws[i+1:]...)
					break
				}
			}
			ep.finished("event", name, id, w.start, true)
			t.complete(nil, fmt.Errorf("waiting for event %q: %w", name, ErrTimeout))
		}}
	}
	return t
}

// SendEvent sends an external event called name with data to another instance. It does
// not wait for anything: the event is sent when the episode commits.
func (c *OrchestrationContext) SendEvent(instanceID, name string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encoding the data of event %q: %w", name, err)
	}
	ep := c.ep
	id := ep.newID()
	ep.schedule(history.Event{Kind: history.EventSent, TaskID: id, Name: name, Input: raw, InstanceID: instanceID},
		Action{Kind: SendEvent, TaskID: id, Name: name, Input: raw, InstanceID: instanceID})
	return nil
}
