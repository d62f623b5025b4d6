package durable

import (
	"encoding/json"
	"fmt"
	"iter"
	"runtime/debug"
	"slices"
	"time"

	"github.com/warrenhq/warren/history"
)

// episode is the state of one Execute call.
//
// The orchestrator runs as a coroutine (iter.Pull: a goroutine that hands control back and
// forth with the executor, exactly one of the two running at a time). Task.Await on an
// unfinished task yields to the executor, which applies the next event and resumes the
// orchestrator only once the task it waits on is done. At the end of the episode close
// stops the coroutine: the blocked Await panics with unwindSignal, the panic unwinds the
// orchestrator's stack (running its defers) and is caught at the coroutine's root, so no
// goroutine outlives Execute.
//
// Replay: every call the orchestrator makes gets the next task id and becomes a pending
// call; a scheduling event in history (TaskScheduled, SubOrchestrationCreated,
// TimerCreated, EventSent, and PatchMarker, which has no task id) must match the oldest
// pending call by task id, kind and name, else the orchestration fails with a
// *NonDeterminismError. Calls still pending at the end are new: they become NewEvents and
// Actions.
type episode struct {
	reg        *Registry
	instanceID string
	now        time.Time
	res        *Result

	started     history.Event
	begun       bool
	executionID string
	clock       time.Time // CurrentTime: the timestamp of the episode being applied
	replaying   bool
	at          int // the index in past of the event being replayed

	// patches are the answers IsPatched gave, by patch id; recordedPatches the patch ids
	// whose marker the past holds.
	patches         map[string]bool
	recordedPatches map[string]bool

	nextID      int64
	open        map[int64]*openCall
	pending     []pendingCall
	pendingHead int // pending[:pendingHead] are matched with history

	waiters  map[string][]*eventWait
	buffered map[string][]bufferedEvent
	arrivals int64
	// suspended: new events are recorded but queued until ExecutionResumed.
	suspended bool
	queued    []*history.Event

	// the coroutine
	next      func() (struct{}, bool)
	stop      func()
	yield     func(struct{}) bool
	waitingOn *task
	orchDone  bool
	orchOut   json.RawMessage
	orchErr   error
	orchPanic *history.Failure

	customStatus json.RawMessage
	uuids        int
	can          *continueAsNew

	// the outcome; status is empty while the execution goes on
	status                 history.Status
	failure                *history.Failure
	failedByNondeterminism bool
	nondeterminism         *NonDeterminismError
	rest                   []history.Event // incoming events left once the execution ended
}

type pendingCall struct {
	ev     history.Event
	action Action
}

// openCall is a call waiting for its outcome event.
type openCall struct {
	accepts  [2]history.Kind
	received bool
	recorded bool   // its scheduling event is in history
	child    string // the child instance of a sub-orchestration
	// sent is the action that sent the call, once its scheduling event is matched in
	// history (Rewind sends it again).
	sent   *Action
	handle func(ev *history.Event)
}

type eventWait struct {
	name  string
	id    int64
	start time.Time
	t     *task
}

type bufferedEvent struct {
	arrival int64
	ev      *history.Event
}

type continueAsNew struct {
	input json.RawMessage
	keep  bool
	err   error
}

// unwindSignal is the panic value that unwinds a blocked orchestrator at the end of an
// episode.
type unwindSignal struct{}

func newEpisode(reg *Registry, instanceID string, now time.Time) *episode {
	return &episode{
		reg: reg, instanceID: instanceID, now: now, res: &Result{},
		open: map[int64]*openCall{}, waiters: map[string][]*eventWait{}, buffered: map[string][]bufferedEvent{},
		patches: map[string]bool{}, recordedPatches: map[string]bool{},
	}
}

func (ep *episode) run(past, incoming []history.Event) error {
	if err := checkStart(past, incoming); err != nil {
		return err
	}
	ep.replaying = true
	ep.notePatches(past)
	for i := range past {
		switch past[i].Kind {
		case history.ExecutionCompleted, history.ExecutionFailed, history.ExecutionTerminated, history.ContinuedAsNew:
			return fmt.Errorf("instance %q: the execution has already ended (%s in history)", ep.instanceID, past[i].Kind)
		}
		ep.at = i
		ep.handle(&past[i], false)
		if ep.ended() {
			break
		}
	}
	ep.replaying = false
	ep.pending = ep.pending[ep.pendingHead:]
	ep.pendingHead = 0
	ep.clock = ep.now
	ep.record(history.Event{Kind: history.OrchestratorStarted})
	// An orchestrator that returned while its past was replayed ends now: it may have been
	// waiting for an event with no timeout, which leaves nothing in history.
	ep.checkReturned()
	for i := range incoming {
		if ep.ended() {
			ep.rest = incoming[i:]
			break
		}
		ep.handle(&incoming[i], true)
	}
	ep.finish()
	return nil
}

// checkStart makes sure the execution begins with ExecutionStarted.
func checkStart(past, incoming []history.Event) error {
	for _, evs := range [][]history.Event{past, incoming} {
		for i := range evs {
			switch evs[i].Kind {
			case history.OrchestratorStarted:
				continue
			case history.ExecutionStarted:
				return nil
			default:
				return fmt.Errorf("history must begin with %s, not %s", history.ExecutionStarted, evs[i].Kind)
			}
		}
	}
	return fmt.Errorf("no %s: nothing to run", history.ExecutionStarted)
}

func (ep *episode) close() {
	if ep.stop != nil {
		ep.stop()
	}
}

func (ep *episode) ended() bool { return ep.status != "" }

// record adds an event to NewEvents (only outside replay).
func (ep *episode) record(ev history.Event) {
	if ep.replaying {
		return
	}
	ev.Version = history.VersionOf(ev.Kind)
	if ev.Timestamp.IsZero() {
		ev.Timestamp = ep.now
	}
	ep.res.NewEvents = append(ep.res.NewEvents, ev)
}

// handle takes one event of history (fresh=false, replay) or one new input (fresh=true).
func (ep *episode) handle(ev *history.Event, fresh bool) {
	switch ev.Kind {
	case history.OrchestratorStarted:
		if !fresh {
			ep.clock = ev.Timestamp
		}
	case history.ExecutionStarted:
		if ep.begun {
			return // a second start of the same execution: left out
		}
		ep.record(*ev)
		ep.begin(ev)
	case history.TaskScheduled, history.SubOrchestrationCreated, history.TimerCreated, history.EventSent, history.PatchMarker:
		if !fresh {
			ep.match(ev)
		}
	case history.TaskCompleted, history.TaskFailed, history.SubOrchestrationCompleted, history.SubOrchestrationFailed, history.TimerFired:
		c := ep.open[ev.TaskID]
		if c == nil || c.received || (ev.Kind != c.accepts[0] && ev.Kind != c.accepts[1]) {
			return // a duplicate, or a result for no task of this execution: left out
		}
		c.received = true
		ep.record(*ev)
		ep.deliver(ev)
	case history.EventRaised:
		ep.record(*ev)
		ep.deliver(ev)
	case history.ExecutionSuspended:
		ep.record(*ev)
		ep.suspended = true
	case history.ExecutionResumed:
		ep.record(*ev)
		if ep.suspended {
			ep.suspended = false
			queued := ep.queued
			ep.queued = nil
			for _, q := range queued {
				if ep.ended() {
					break
				}
				ep.apply(q)
			}
		}
	case history.ExecutionTerminated:
		ep.record(*ev)
		ep.terminate(ev)
	}
	// Any other kind is not an input of an episode and is left out.
}

func (ep *episode) deliver(ev *history.Event) {
	if ep.suspended {
		ep.queued = append(ep.queued, ev)
		return
	}
	ep.apply(ev)
}

// apply delivers an event to the orchestration and lets the orchestrator run if what it
// waits for is now done.
func (ep *episode) apply(ev *history.Event) {
	if ev.Kind == history.EventRaised {
		ep.raise(ev)
	} else if c := ep.open[ev.TaskID]; c != nil {
		delete(ep.open, ev.TaskID)
		c.handle(ev)
	}
	ep.step()
}

// begin starts the orchestrator's coroutine and runs it until it first blocks.
func (ep *episode) begin(ev *history.Event) {
	ep.begun = true
	ep.started = *ev
	ep.executionID = ev.ExecutionID
	fn := ep.reg.orchestrator(ev.Name)
	if fn == nil {
		ep.fail(&history.Failure{Type: "OrchestratorNotRegistered",
			Message: fmt.Sprintf("orchestrator %q is not registered (registered: %v)", ev.Name, ep.reg.Orchestrators())}, false)
		return
	}
	ctx := &OrchestrationContext{ep: ep}
	input := ev.Input
	ep.next, ep.stop = iter.Pull(func(yield func(struct{}) bool) {
		ep.yield = yield
		defer func() {
			ep.orchDone = true
			if p := recover(); p != nil {
				if _, ok := p.(unwindSignal); ok {
					return
				}
				ep.orchPanic = &history.Failure{Type: "Panic", Message: fmt.Sprint(p), Stack: string(debug.Stack())}
			}
		}()
		ep.orchOut, ep.orchErr = fn(ctx, input)
	})
	ep.next()
	ep.checkReturned()
}

// block is Task.Await's wait: hand control to the executor until t is done.
func (ep *episode) block(t *task) {
	for !t.done {
		if ep.yield == nil {
			panic("durable: Await called outside an orchestrator")
		}
		ep.waitingOn = t
		if !ep.yield(struct{}{}) {
			panic(unwindSignal{})
		}
	}
}

// step resumes the orchestrator while the task it waits on is done.
func (ep *episode) step() {
	for !ep.orchDone && !ep.ended() && ep.waitingOn != nil && ep.waitingOn.done {
		ep.waitingOn = nil
		ep.next()
	}
	ep.checkReturned()
}

// checkReturned ends the execution when the orchestrator has returned. While replaying, a
// normal return waits for the end of the replay (history may hold calls the code no longer
// makes: those are non-determinism); a panic fails at once.
func (ep *episode) checkReturned() {
	if !ep.orchDone || ep.ended() {
		return
	}
	switch {
	case ep.orchPanic != nil:
		ep.fail(ep.orchPanic, false)
	case ep.replaying:
	case ep.can != nil && ep.can.err != nil:
		ep.fail(failureOf(ep.can.err), false)
	case ep.can != nil:
		ep.status = history.StatusContinuedAsNew
	case ep.orchErr != nil:
		ep.fail(failureOf(ep.orchErr), false)
	default:
		ep.status = history.StatusCompleted
		ep.res.Output = ep.orchOut
	}
}

func (ep *episode) fail(f *history.Failure, nondeterminism bool) {
	if ep.ended() {
		return
	}
	ep.status = history.StatusFailed
	ep.failure = f
	ep.failedByNondeterminism = nondeterminism
}

// match checks a recorded scheduling event against the oldest pending call.
func (ep *episode) match(ev *history.Event) {
	if ep.ended() {
		return
	}
	if ep.pendingHead == len(ep.pending) {
		ep.nondeterministic(ev.TaskID, describe(ev), "no call")
		return
	}
	p := &ep.pending[ep.pendingHead]
	if p.ev.TaskID != ev.TaskID || p.ev.Kind != ev.Kind || p.ev.Name != ev.Name {
		requested := describe(&p.ev)
		if p.ev.TaskID != ev.TaskID {
			requested += fmt.Sprintf(" as task %d", p.ev.TaskID)
		}
		ep.nondeterministic(ev.TaskID, describe(ev), requested)
		return
	}
	ep.pendingHead++
	if c := ep.open[ev.TaskID]; c != nil {
		c.recorded = true
		c.sent = &p.action
	}
}

func (ep *episode) nondeterministic(id int64, recorded, requested string) {
	if ep.ended() {
		return
	}
	err := &NonDeterminismError{TaskID: id, Recorded: recorded, Requested: requested, Event: ep.at}
	ep.nondeterminism = err
	ep.fail(failureOf(err), true)
}

func describe(ev *history.Event) string {
	switch ev.Kind {
	case history.TaskScheduled:
		return fmt.Sprintf("activity %q", ev.Name)
	case history.SubOrchestrationCreated:
		return fmt.Sprintf("sub-orchestration %q", ev.Name)
	case history.TimerCreated:
		return "a timer"
	case history.EventSent:
		return fmt.Sprintf("event %q sent to %q", ev.Name, ev.InstanceID)
	case history.PatchMarker:
		return fmt.Sprintf("patch marker %q", ev.Name)
	}
	return string(ev.Kind)
}

// newID returns the next task id; ids start at 1 and follow the order of calls.
func (ep *episode) newID() int64 {
	ep.nextID++
	return ep.nextID
}

func (ep *episode) schedule(ev history.Event, act Action) {
	ep.pending = append(ep.pending, pendingCall{ev: ev, action: act})
}

// raise delivers an external event to the oldest waiter for its name, or buffers it.
func (ep *episode) raise(ev *history.Event) {
	if ws := ep.waiters[ev.Name]; len(ws) > 0 {
		w := ws[0]
		ws[0] = nil
		ep.waiters[ev.Name] = ws[1:]
		ep.finished("event", w.name, w.id, w.start, false)
		w.t.complete(ev.Input, nil)
		return
	}
	ep.arrivals++
	ep.buffered[ev.Name] = append(ep.buffered[ev.Name], bufferedEvent{arrival: ep.arrivals, ev: ev})
}

func (ep *episode) finished(kind, name string, id int64, start time.Time, timedOut bool) {
	if ep.replaying {
		return
	}
	ep.res.Finished = append(ep.res.Finished, FinishedWait{Kind: kind, Name: name, TaskID: id, Start: start, End: ep.clock, TimedOut: timedOut})
}

// terminate ends the execution; with Recursive, every running child is terminated too.
func (ep *episode) terminate(ev *history.Event) {
	if ep.ended() {
		return
	}
	ep.status = history.StatusTerminated
	reason := ev.Reason
	if reason == "" {
		reason = "terminated"
	}
	ep.failure = &history.Failure{Type: "Terminated", Message: reason}
	if !ev.Recursive {
		return
	}
	ids := make([]int64, 0, len(ep.open))
	for id, c := range ep.open {
		if c.child != "" && c.recorded {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		ep.res.Actions = append(ep.res.Actions, Action{Kind: TerminateChild, TaskID: id, InstanceID: ep.open[id].child, Reason: ev.Reason})
	}
}

// finish writes the calls made in this episode and the outcome into the Result.
func (ep *episode) finish() {
	res := ep.res
	emitCalls := !ep.failedByNondeterminism && ep.status != history.StatusTerminated
	if emitCalls {
		for i := range ep.pending {
			p := &ep.pending[i]
			ep.record(p.ev)
			if p.action.Kind != 0 { // a patch marker sends nothing
				res.Actions = append(res.Actions, p.action)
			}
		}
	}
	res.CustomStatus = ep.customStatus
	switch ep.status {
	case "":
		res.Status = history.StatusRunning
		if ep.suspended {
			res.Status = history.StatusSuspended
		}
	case history.StatusCompleted:
		res.Status = history.StatusCompleted
		ep.record(history.Event{Kind: history.ExecutionCompleted, Result: res.Output})
	case history.StatusFailed:
		res.Status, res.Failure = history.StatusFailed, ep.failure
		ep.record(history.Event{Kind: history.ExecutionFailed, Failure: ep.failure})
	case history.StatusTerminated:
		res.Status, res.Failure = history.StatusTerminated, ep.failure
	case history.StatusContinuedAsNew:
		res.Status = history.StatusContinuedAsNew
		res.ContinueAsNewInput = ep.can.input
		if ep.can.keep {
			res.Carried = ep.carried()
		}
		ep.record(history.Event{Kind: history.ContinuedAsNew, Input: res.ContinueAsNewInput, Carried: res.Carried})
	}
}

// carried returns the external events nobody has taken yet, in arrival order: those
// buffered, then those that arrived after the orchestrator continued as new.
func (ep *episode) carried() []history.Event {
	var buf []bufferedEvent
	for _, evs := range ep.buffered {
		buf = append(buf, evs...)
	}
	slices.SortFunc(buf, func(a, b bufferedEvent) int { return int(a.arrival - b.arrival) })
	var out []history.Event
	for _, b := range buf {
		out = append(out, *b.ev)
	}
	for _, ev := range ep.rest {
		if ev.Kind == history.EventRaised {
			out = append(out, ev)
		}
	}
	return out
}
