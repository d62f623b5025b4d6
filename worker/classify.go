package worker

import (
	"slices"

	"github.com/warrenhq/warren/history"
)

// verdict is what one inbound control message means to an instance's state; plan carries it
// out. classify decides it without I/O, so every case is a line of a table test.
type verdict int

const (
	// apply: an input of the current execution, consumed by this episode.
	apply verdict = iota
	// begin: an ExecutionStarted that begins a new execution.
	begin
	// seen: consumed by a committed episode whose outbox is known to be sent, or a copy
	// published twice: ack it and do nothing else.
	seen
	// resend: the broker delivers again a message that a committed episode consumed, and
	// this worker does not know that the episode's outbox was sent (its worker may have
	// died between commit and publish): ack it and publish that outbox again.
	resend
	// later: for an execution that has not begun yet (continue-as-new in flight, a start
	// overtaken by a message behind it): requeue.
	later
	// stale: for an execution that has ended: ack and drop.
	stale
	// reload: the cached state may be out of date for this message (it names an execution
	// the cache does not know, or would begin a new one): read the store and classify again.
	reload
	// conflict: a start for an instance that runs another execution.
	conflict
	// refused: a start that the dispatcher gave up on (its document says StartNotQueued).
	refused
	// orphan: not a start, for an instance that has not started after many deliveries.
	orphan
	// rewind: an ExecutionRewound for the instance's Failed execution: begin the execution
	// rewound from it.
	rewind
	// norewind: an ExecutionRewound that cannot rewind the instance (it has not failed, it
	// is unknown, or it is another parent's child): answer it (rewindRefused).
	norewind
)

var verdictNames = [...]string{"apply", "begin", "seen", "resend", "later", "stale", "reload", "conflict", "refused", "orphan", "rewind", "norewind"}

func (v verdict) String() string { return verdictNames[v] }

// arrival is what classify needs of a delivery.
type arrival struct {
	id          string // message id
	redelivered bool   // the broker handed this very message out before
	deliveries  int    // the broker's deliveries of this message, this one included
	msg         history.ControlMessage
}

// startWaitDeliveries is how often a message that arrived before its instance's start is
// put back to wait for it. Requeued messages can overtake one another (RabbitMQ delivers
// returns in the order they came back), so the start is usually right behind; a start
// that never comes (its dispatcher died before sending it) must not keep the message
// going round for ever.
const startWaitDeliveries = 20

// classify relates a message to st, the instance's state (nil when the store has no such
// instance). cached says st came from this worker's cache rather than from the store just now.
func classify(st *instanceState, a arrival, cached bool) verdict {
	if n, ok := st.consumedBy(a.id); ok {
		// Only a redelivery can mean a lost publish: a fresh copy of a consumed message
		// (a duplicate publish, a resent timer) would otherwise re-send the outbox of every
		// episode after it, each copy running the next activity again. Nor can the copy of
		// an event a start carried, redelivered (it went back when its consumer lost the
		// partition): the start it came with is the episode's input, and comes back itself
		// when its outbox may not have been sent.
		if a.redelivered && !st.published[n] && !st.carried[a.id] {
			return resend
		}
		return seen
	}
	ev := a.msg.Event
	if ev.Kind == history.ExecutionStarted {
		switch {
		case st == nil:
			return begin
		case st.refusedStart(ev.ExecutionID):
			return refused
		case st.started.Kind != "" && st.inst.ExecutionID == ev.ExecutionID:
			return seen // a second copy of the current execution's start
		case cached && st.started.Kind != "":
			return reload // beginning an execution is decided on the store's word only
		case startNumber(a.msg) > 0 && st.inst.Executions >= startNumber(a.msg) && st.inst.ExecutionID != ev.ExecutionID:
			// A late copy of a start: the instance has begun that execution and gone past it
			// (more continue-as-news, a restart); the document the dispatcher wrote for this
			// very start has the same number. Begun again, it would write the document back to
			// that execution (simulation seed 52961).
			return stale
		case st.acceptsStart():
			return begin
		default:
			return conflict
		}
	}
	if ev.Kind == history.ExecutionRewound {
		return classifyRewind(st, a, cached)
	}
	if st == nil || (st.started.Kind == "" && !st.fresh && !st.finished()) {
		if st != nil && cached {
			// Cached before its start was processed, perhaps by another worker while the
			// partition changed hands: only the store can say it still waits.
			return reload
		}
		// The instance is unknown, or recorded without its start processed yet.
		if a.deliveries < startWaitDeliveries {
			return later
		}
		return orphan
	}
	if x := a.msg.ExecutionID; x != "" && x != st.inst.ExecutionID && !st.takesLate(x, ev.Kind) {
		switch {
		case cached:
			return reload
		case st.status == history.StatusContinuedAsNew:
			return later // for the next execution, whose start is queued behind
		default:
			return stale
		}
	}
	if st.finished() {
		if st.status == history.StatusContinuedAsNew && a.msg.ExecutionID == "" {
			return later // an event for the instance: the next execution takes it
		}
		return stale
	}
	return apply
}

// startNumber is the execution number a start begins, as its sender knew it: the one a
// continue-as-new gives the next execution, or the one the dispatcher recorded; 0 when the
// start does not say (a child's, or a message of an earlier release).
func startNumber(m history.ControlMessage) int64 {
	if m.Execution > 0 {
		return m.Execution
	}
	return m.Recorded
}

// classifyRewind relates an ExecutionRewound to st. Like a start, it is decided on the
// store's word only.
func classifyRewind(st *instanceState, a arrival, cached bool) verdict {
	switch {
	case st == nil:
		return norewind
	case cached:
		return reload
	case st.started.Kind == "" && st.inst.RewoundFrom != "" && st.inst.ExecutionID == a.msg.Event.ExecutionID:
		return rewind // its document was written, its first episode not committed
	case st.started.Kind == "" || st.status == history.StatusContinuedAsNew:
		// Not begun yet: a child rewound with its parent just after its start was sent.
		if a.deliveries < startWaitDeliveries {
			return later
		}
		return norewind
	case st.status == history.StatusFailed && (a.msg.ExecutionID == "" || a.msg.ExecutionID == st.inst.ExecutionID) &&
		sameCall(st.started.Parent, a.msg.Event.Parent):
		return rewind
	}
	return norewind
}

// sameCall reports whether a child whose parent is cur may be rewound by the parent that
// asks: the same instance and task (its execution is the one rewound from cur's). A
// client's rewind (asked nil) names no parent.
func sameCall(cur, asked *history.ParentRef) bool {
	return asked == nil || (cur != nil && cur.InstanceID == asked.InstanceID && cur.TaskID == asked.TaskID)
}

// takesLate reports whether the current execution takes a message addressed to execution
// x: one of the failed executions it was rewound from, whose late results are its own
// (same task ids). Not an activity's failure: the rewind sent every open activity again,
// and the old attempt's failure may be no more than its cancellation when its execution
// failed.
func (s *instanceState) takesLate(x string, kind history.Kind) bool {
	return kind != history.TaskFailed && slices.Contains(s.started.RewoundFrom, x)
}

// refusedStart reports whether the dispatcher marked this execution's start as not queued:
// it answered its caller with an error, so the execution must not run if the message
// turns up after all. A worker that got there first has written Running over that mark.
func (s *instanceState) refusedStart(executionID string) bool {
	return s.started.Kind == "" && s.inst.ExecutionID == executionID &&
		s.inst.Status == history.StatusFailed && s.inst.Failure != nil && s.inst.Failure.Type == failureStartNotQueued
}

// failureStartNotQueued is the failure type the dispatcher writes on a start it gave up on.
const failureStartNotQueued = "StartNotQueued"
