// Package durabletest runs orchestrations in memory with a virtual clock, so they can be
// tested in milliseconds without RabbitMQ or MongoDB. It drives the same [durable.Executor]
// the workers run, replaying each instance's whole history on every episode, so a test also
// checks that the orchestration replays deterministically.
//
//	h := durabletest.New(r)
//	h.Start("HelloSequence", "hello-1", "Tokyo")
//	h.Run() // runs activities inline, fires timers by advancing the virtual clock
//	var out string
//	h.Output("hello-1", &out)
//
// Activities run inline, in the order they were scheduled. Timers fire only when the clock
// moves: [Harness.Advance] moves it by d, [Harness.Run] moves it to each due timer in turn;
// [Harness.RunUntilIdle] never moves it.
//
// With [Harness.SetTracer] the harness also exports the spans a worker would, on the virtual
// clock: [Harness.StartContext] under a caller's span, then one trace per orchestration tree.
package durabletest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
)

// Start is the virtual clock's time when a harness is made.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// maxSteps bounds how many episodes and activities one Run may take, so that an
// orchestration that never settles fails the test instead of hanging it.
const maxSteps = 1_000_000

// Harness is an in-memory task hub. It is not safe for concurrent use.
type Harness struct {
	reg       *durable.Registry
	exec      *durable.Executor
	now       time.Time
	instances map[string]*instance
	order     []string // instance ids in creation order: episodes run in this order
	timers    []timer
	seq       int
	onEpisode func(instanceID string, past []history.Event, res *durable.Result)
	tracer    trace.Tracer      // nil: no spans (SetTracer)
	mocks     *durable.Registry // activities OnActivity replaced
}

type instance struct {
	id           string
	executionID  string
	started      history.Event
	past         []history.Event
	inbox        []history.Event
	status       history.Status
	output       json.RawMessage
	failure      *history.Failure
	customStatus json.RawMessage
}

type timer struct {
	at          time.Time
	seq         int
	instanceID  string
	executionID string
	ev          history.Event
}

// New returns a harness for the orchestrators and activities registered in r, its clock
// at Start.
func New(r *durable.Registry) *Harness {
	return &Harness{reg: r, exec: durable.NewExecutor(r), now: Start, instances: map[string]*instance{}}
}

// OnEpisode sets a function called after every episode with the history it replayed and
// what the executor decided (tracing tests observe episodes with it).
func (h *Harness) OnEpisode(fn func(instanceID string, past []history.Event, res *durable.Result)) {
	h.onEpisode = fn
}

// Now is the virtual clock's time.
func (h *Harness) Now() time.Time { return h.now }

// Start queues the start of orchestration name as instanceID with input (encoded to JSON).
// An instance id that is running already is an error; one that has ended starts over.
func (h *Harness) Start(name, instanceID string, input any) error {
	return h.start(context.Background(), name, instanceID, input)
}

func (h *Harness) start(ctx context.Context, name, instanceID string, input any) error {
	if h.reg == nil || !slices.Contains(h.reg.Orchestrators(), name) {
		return fmt.Errorf("orchestrator %q is not registered", name)
	}
	raw, err := json.Marshal(input)
	if err != nil {
		return fmt.Errorf("encoding the input: %w", err)
	}
	if inst := h.instances[instanceID]; inst != nil && !finished(inst.status) {
		return fmt.Errorf("instance %q is already %s", instanceID, inst.status)
	}
	h.begin(instanceID, history.Event{Kind: history.ExecutionStarted, Name: name, Input: raw, Trace: h.newTrace(ctx)})
	return nil
}

// begin starts a new execution of instance id with start (an ExecutionStarted) and, after
// it, the carried events.
func (h *Harness) begin(id string, start history.Event, carried ...history.Event) {
	h.seq++
	start.Version = history.VersionOf(history.ExecutionStarted)
	start.ExecutionID = fmt.Sprintf("exec-%d", h.seq)
	start.Timestamp = time.Time{}
	inst := h.instances[id]
	if inst == nil {
		inst = &instance{id: id}
		h.instances[id] = inst
		h.order = append(h.order, id)
	}
	*inst = instance{id: id, executionID: start.ExecutionID, status: history.StatusPending,
		inbox: append([]history.Event{start}, carried...)}
}

// RaiseEvent queues external event name with data (encoded to JSON) for instanceID. Like
// Terminate, Suspend and Resume, it is an error for an instance that has ended.
func (h *Harness) RaiseEvent(instanceID, name string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encoding the event data: %w", err)
	}
	return h.signal(instanceID, "raising an event", history.Event{Kind: history.EventRaised, Name: name, Input: raw})
}

// Terminate queues the termination of instanceID; with recursive, its running children are
// terminated too.
func (h *Harness) Terminate(instanceID, reason string, recursive bool) error {
	return h.signal(instanceID, "terminating it", history.Event{Kind: history.ExecutionTerminated, Reason: reason, Recursive: recursive})
}

// Suspend queues the suspension of instanceID: events wait until it is resumed.
func (h *Harness) Suspend(instanceID, reason string) error {
	return h.signal(instanceID, "suspending it", history.Event{Kind: history.ExecutionSuspended, Reason: reason})
}

// Resume queues the resumption of a suspended instanceID.
func (h *Harness) Resume(instanceID, reason string) error {
	return h.signal(instanceID, "resuming it", history.Event{Kind: history.ExecutionResumed, Reason: reason})
}

// signal queues a client's event for an instance: an instance that has ended is an error,
// since the event would change nothing (the fleet answers 409).
func (h *Harness) signal(instanceID, what string, ev history.Event) error {
	if inst := h.instances[instanceID]; inst != nil && inst.status.Terminal() {
		return fmt.Errorf("instance %q has ended (%s): %s changes nothing", instanceID, inst.status, what)
	}
	return h.send(instanceID, ev)
}

func (h *Harness) send(instanceID string, ev history.Event) error {
	inst := h.instances[instanceID]
	if inst == nil {
		return fmt.Errorf("no instance %q", instanceID)
	}
	ev.Version = history.VersionOf(ev.Kind)
	inst.inbox = append(inst.inbox, ev)
	return nil
}

// RunUntilIdle runs episodes and activities until no instance has anything left to do
// without the clock moving.
func (h *Harness) RunUntilIdle() error {
	for steps := 0; ; steps++ {
		if steps > maxSteps {
			return errors.New("durabletest: no idle state after a million episodes; does the orchestration loop forever?")
		}
		inst := h.nextReady()
		if inst == nil {
			return nil
		}
		if err := h.episode(inst); err != nil {
			return err
		}
	}
}

// Run runs until nothing is left to do, moving the clock to each pending timer in turn
// (every timer, even one a day away). Instances waiting for an external event without a
// timeout stay waiting.
func (h *Harness) Run() error {
	for steps := 0; ; steps++ {
		if steps > maxSteps {
			return errors.New("durabletest: timers keep coming after a million steps")
		}
		if err := h.RunUntilIdle(); err != nil {
			return err
		}
		if !h.fireNextTimer(time.Time{}) {
			return nil
		}
	}
}

// Advance moves the clock forward by d, firing the timers that fall due on the way (each at
// its own time) and running until idle after each.
func (h *Harness) Advance(d time.Duration) error {
	until := h.now.Add(d)
	if err := h.runUntil(until); err != nil {
		return err
	}
	h.now = until
	return nil
}

// runUntil runs until idle, then fires each timer due by until in turn, running until idle
// after each.
func (h *Harness) runUntil(until time.Time) error {
	if err := h.RunUntilIdle(); err != nil {
		return err
	}
	for h.fireNextTimer(until) {
		if err := h.RunUntilIdle(); err != nil {
			return err
		}
	}
	return nil
}

// fireNextTimer delivers the earliest timer (due by until, if until is set), moving the
// clock to it; it reports whether there was one.
func (h *Harness) fireNextTimer(until time.Time) bool {
	for len(h.timers) > 0 {
		i := 0
		for j, t := range h.timers {
			if t.at.Before(h.timers[i].at) || (t.at.Equal(h.timers[i].at) && t.seq < h.timers[i].seq) {
				i = j
			}
		}
		t := h.timers[i]
		if !until.IsZero() && t.at.After(until) {
			return false
		}
		h.timers = slices.Delete(h.timers, i, i+1)
		inst := h.instances[t.instanceID]
		if inst == nil || inst.executionID != t.executionID || finished(inst.status) {
			continue // a timer of an execution that has ended
		}
		if t.at.After(h.now) {
			h.now = t.at
		}
		inst.inbox = append(inst.inbox, t.ev)
		return true
	}
	return false
}

func (h *Harness) nextReady() *instance {
	for _, id := range h.order {
		inst := h.instances[id]
		if len(inst.inbox) == 0 {
			continue
		}
		if finished(inst.status) {
			inst.inbox = nil // events for an execution that has ended are dropped
			continue
		}
		return inst
	}
	return nil
}

// episode runs one instance over its inbox and carries out what the executor decided.
func (h *Harness) episode(inst *instance) error {
	incoming := inst.inbox
	inst.inbox = nil
	for i := range incoming {
		if incoming[i].Timestamp.IsZero() {
			incoming[i].Timestamp = h.now
		}
	}
	res, err := h.exec.Execute(inst.id, inst.past, incoming, h.now)
	if err != nil {
		return fmt.Errorf("durabletest: instance %q: %w", inst.id, err)
	}
	if h.onEpisode != nil {
		h.onEpisode(inst.id, slices.Clone(inst.past), res)
	}
	h.commit(inst, res)
	return nil
}

// commit records what the executor decided in an episode of inst and carries it out.
func (h *Harness) commit(inst *instance, res *durable.Result) {
	for _, ev := range res.NewEvents {
		if ev.Kind == history.ExecutionStarted {
			inst.started = ev
		}
	}
	inst.past = append(inst.past, res.NewEvents...)
	inst.status, inst.customStatus = res.Status, res.CustomStatus
	inst.output, inst.failure = res.Output, res.Failure
	h.traceEpisode(inst.id, inst.started, res) // the episode is "committed"
	for _, a := range res.Actions {
		h.act(inst, a)
	}
	if len(res.CanceledTimers) > 0 {
		h.timers = slices.DeleteFunc(h.timers, func(t timer) bool {
			return t.instanceID == inst.id && t.executionID == inst.executionID && slices.Contains(res.CanceledTimers, t.ev.TaskID)
		})
	}
	if parent := inst.started.Parent; parent != nil && res.Status.Terminal() {
		h.notifyParent(inst, parent, res)
	}
	if res.Status == history.StatusContinuedAsNew {
		start := inst.started
		start.Input = res.ContinueAsNewInput
		start.Trace = nextTrace(start.Trace)
		h.begin(inst.id, start, res.Carried...)
	}
}

func (h *Harness) act(inst *instance, a durable.Action) {
	switch a.Kind {
	case durable.ScheduleActivity:
		out, failure := h.runActivity(inst, a)
		ev := history.Event{Version: history.VersionOf(history.TaskCompleted), Kind: history.TaskCompleted, TaskID: a.TaskID, Result: out}
		if failure != nil {
			ev.Kind, ev.Result, ev.Failure = history.TaskFailed, nil, failure
		}
		inst.inbox = append(inst.inbox, ev)
	case durable.StartChild:
		if child := h.instances[a.InstanceID]; child != nil && !finished(child.status) {
			inst.inbox = append(inst.inbox, history.Event{Version: history.VersionOf(history.SubOrchestrationFailed), Kind: history.SubOrchestrationFailed,
				TaskID: a.TaskID, InstanceID: a.InstanceID,
				Failure: &history.Failure{Type: "InstanceExists", Message: fmt.Sprintf("instance %q is already running", a.InstanceID)}})
			return
		}
		h.begin(a.InstanceID, history.Event{Kind: history.ExecutionStarted, Name: a.Name, Input: a.Input, Attempt: a.Attempt,
			Parent: &history.ParentRef{InstanceID: inst.id, ExecutionID: inst.executionID, TaskID: a.TaskID, Name: inst.started.Name},
			Trace:  h.childTrace(inst.started)})
	case durable.CreateTimer:
		h.seq++
		h.timers = append(h.timers, timer{at: a.FireAt, seq: h.seq, instanceID: inst.id, executionID: inst.executionID,
			ev: history.Event{Version: history.VersionOf(history.TimerFired), Kind: history.TimerFired, TaskID: a.TaskID, FireAt: a.FireAt}})
	case durable.SendEvent:
		_ = h.send(a.InstanceID, history.Event{Kind: history.EventRaised, Name: a.Name, Input: a.Input})
	case durable.TerminateChild:
		_ = h.send(a.InstanceID, history.Event{Kind: history.ExecutionTerminated, Reason: a.Reason, Recursive: true})
	case durable.RewindChild:
		h.rewindChild(inst, a)
	}
}

func (h *Harness) notifyParent(inst *instance, parent *history.ParentRef, res *durable.Result) {
	p := h.instances[parent.InstanceID]
	if p == nil || (p.executionID != parent.ExecutionID && !slices.Contains(p.started.RewoundFrom, parent.ExecutionID)) {
		return // an execution that has ended; one rewound from it takes its children's ends
	}
	ev := history.Event{TaskID: parent.TaskID, InstanceID: inst.id}
	switch res.Status {
	case history.StatusCompleted:
		ev.Kind, ev.Result = history.SubOrchestrationCompleted, res.Output
	default:
		ev.Kind, ev.Failure = history.SubOrchestrationFailed, res.Failure
	}
	ev.Version = history.VersionOf(ev.Kind)
	p.inbox = append(p.inbox, ev)
}

func finished(s history.Status) bool { return s.Terminal() || s == history.StatusContinuedAsNew }

// Status is the instance's status ("" for an unknown instance).
func (h *Harness) Status(instanceID string) history.Status {
	if inst := h.instances[instanceID]; inst != nil {
		return inst.status
	}
	return ""
}

// Output decodes a completed instance's output into v.
func (h *Harness) Output(instanceID string, v any) error {
	inst := h.instances[instanceID]
	switch {
	case inst == nil:
		return fmt.Errorf("no instance %q", instanceID)
	case inst.status != history.StatusCompleted:
		if inst.failure != nil {
			return fmt.Errorf("instance %q is %s: %s", instanceID, inst.status, inst.failure.Error())
		}
		return fmt.Errorf("instance %q is %s, not Completed", instanceID, inst.status)
	}
	return json.Unmarshal(inst.output, v)
}

// Failure is why the instance failed or was terminated (nil otherwise).
func (h *Harness) Failure(instanceID string) *history.Failure {
	if inst := h.instances[instanceID]; inst != nil {
		return inst.failure
	}
	return nil
}

// CustomStatus is the instance's custom status, as JSON.
func (h *Harness) CustomStatus(instanceID string) json.RawMessage {
	if inst := h.instances[instanceID]; inst != nil {
		return inst.customStatus
	}
	return nil
}

// History returns a copy of the history of the instance's current execution.
func (h *Harness) History(instanceID string) []history.Event {
	if inst := h.instances[instanceID]; inst != nil {
		return slices.Clone(inst.past)
	}
	return nil
}

// Instances returns every instance id the harness knows, in creation order.
func (h *Harness) Instances() []string { return slices.Clone(h.order) }
