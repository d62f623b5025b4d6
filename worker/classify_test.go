package worker

import (
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

func TestClassify(t *testing.T) {
	start := func(exec string) history.Event {
		return history.Event{Kind: history.ExecutionStarted, Name: "O", ExecutionID: exec}
	}
	raised := history.Event{Kind: history.EventRaised, Name: "go"}
	// running is execution e1 after one episode that consumed message m1 (outbox sent or not).
	running := func(published bool) *instanceState {
		st := newState(history.Instance{InstanceID: "i", ExecutionID: "e1", Status: history.StatusRunning},
			[]history.Episode{{Number: 1, Events: []history.Event{start("e1")}, Consumed: []string{"m1"},
				Outbox: []history.OutboxMessage{{ID: "a"}}}})
		st.published[1] = published
		return st
	}
	ended := func(status history.Status, end history.Kind) *instanceState {
		return newState(history.Instance{InstanceID: "i", ExecutionID: "e1", Status: status},
			[]history.Episode{{Number: 1, Events: []history.Event{start("e1"), {Kind: end}}, Consumed: []string{"m1"}}})
	}
	// carrying is an execution begun by message s, which carried an event (continue-as-new):
	// its first episode consumed s and the carried event, whose own message is s/0; that
	// episode's outbox may not have been sent.
	carrying := func() *instanceState {
		begun := start("e1")
		begun.MessageID = "s"
		carriedEv := raised
		carriedEv.MessageID = carriedMessageID("s", 0)
		return newState(history.Instance{InstanceID: "i", ExecutionID: "e1", Status: history.StatusRunning},
			[]history.Episode{{Number: 1, Events: []history.Event{begun, carriedEv}, Consumed: []string{"s", "s/0"},
				Outbox: []history.OutboxMessage{{ID: "a"}}}})
	}
	pending := newState(history.Instance{InstanceID: "i", ExecutionID: "e1", Status: history.StatusPending}, nil)
	rewindReq := func(parent string) history.Event {
		ev := history.Event{Kind: history.ExecutionRewound, ExecutionID: "e2"}
		if parent != "" {
			ev.Parent = &history.ParentRef{InstanceID: parent, ExecutionID: "p2", TaskID: 3}
		}
		return ev
	}
	child := func(status history.Status, end history.Kind) *instanceState {
		st := ended(status, end)
		st.started.Parent = &history.ParentRef{InstanceID: "p", ExecutionID: "p1", TaskID: 3}
		return st
	}
	// rewound is execution e2, rewound from e1.
	rewound := running(true)
	rewound.inst.ExecutionID, rewound.started.ExecutionID, rewound.started.RewoundFrom = "e2", "e2", []string{"e1"}
	// halfRewound is the document of e2, rewound from e1, whose first episode its worker
	// did not commit.
	halfRewound := newState(history.Instance{InstanceID: "i", ExecutionID: "e2", Status: history.StatusPending, RewoundFrom: "e1"}, nil)
	completedLate := history.Event{Kind: history.TaskCompleted, TaskID: 2}
	failedLate := history.Event{Kind: history.TaskFailed, TaskID: 2}
	refusedDoc := newState(history.Instance{InstanceID: "i", ExecutionID: "e1", Status: history.StatusFailed,
		Failure: &history.Failure{Type: failureStartNotQueued}}, nil)

	cases := []struct {
		name        string
		st          *instanceState
		id          string
		redelivered bool
		exec        string
		ev          history.Event
		cached      bool
		want        verdict
	}{
		{"copy of a consumed message, outbox sent", running(true), "m1", false, "", raised, true, seen},
		{"fresh copy of a consumed message, send unknown", running(false), "m1", false, "", raised, false, seen},
		{"redelivery, outbox sent", running(true), "m1", true, "", raised, true, seen},
		{"redelivery, send unknown", running(false), "m1", true, "", raised, false, resend},
		{"new input", running(true), "m2", false, "", raised, true, apply},
		{"redelivered copy of a carried event, send unknown", carrying(), "s/0", true, "", raised, false, seen},
		{"redelivered start that carried it, send unknown", carrying(), "s", true, "e1", start("e1"), false, resend},
		{"input for the current execution", running(true), "m2", false, "e1", raised, true, apply},
		{"other execution, from cache", running(true), "m2", false, "e0", raised, true, reload},
		{"other execution, from store", running(true), "m2", false, "e0", raised, false, stale},
		{"next execution after continue-as-new", ended(history.StatusContinuedAsNew, history.ContinuedAsNew), "m2", false, "e2", raised, false, later},
		{"event for the instance after continue-as-new", ended(history.StatusContinuedAsNew, history.ContinuedAsNew), "m2", false, "", raised, false, later},
		{"message for the execution that continued as new", ended(history.StatusContinuedAsNew, history.ContinuedAsNew), "m2", false, "e1", raised, false, stale},
		{"event after completion", ended(history.StatusCompleted, history.ExecutionCompleted), "m2", false, "", raised, false, stale},
		{"start of a new instance", nil, "s", false, "e1", start("e1"), false, begin},
		{"start the dispatcher recorded", pending, "s", false, "e1", start("e1"), false, begin},
		{"start the dispatcher gave up on", refusedDoc, "s", false, "e1", start("e1"), false, refused},
		{"second copy of the current start", running(true), "s2", false, "e1", start("e1"), true, seen},
		{"start while running another execution, from store", running(true), "s", false, "e2", start("e2"), false, conflict},
		{"start while running another execution, from cache", running(true), "s", false, "e2", start("e2"), true, reload},
		{"start after the end, from cache", ended(history.StatusCompleted, history.ExecutionCompleted), "s", false, "e2", start("e2"), true, reload},
		{"start after the end, from store", ended(history.StatusCompleted, history.ExecutionCompleted), "s", false, "e2", start("e2"), false, begin},
		{"start after continue-as-new", ended(history.StatusContinuedAsNew, history.ContinuedAsNew), "s", false, "e2", start("e2"), false, begin},
		{"event for an unknown instance", nil, "m", false, "", raised, false, later},
		{"event before the instance's start", pending, "m", false, "", raised, false, later},
		{"event before the start, from cache", pending, "m", false, "", raised, true, reload},
		{"event behind the start in the same batch", freshState("i", nil, start("e1"), time.Time{}), "m", false, "", raised, false, apply},
		{"event for a start the dispatcher gave up on", refusedDoc, "m", false, "", raised, false, stale},
		{"rewind of the failed execution", ended(history.StatusFailed, history.ExecutionFailed), "r", false, "e1", rewindReq(""), false, rewind},
		{"rewind of the failed execution, from cache", ended(history.StatusFailed, history.ExecutionFailed), "r", false, "e1", rewindReq(""), true, reload},
		{"rewind of another execution", ended(history.StatusFailed, history.ExecutionFailed), "r", false, "e0", rewindReq(""), false, norewind},
		{"rewind of a completed instance", ended(history.StatusCompleted, history.ExecutionCompleted), "r", false, "e1", rewindReq(""), false, norewind},
		{"rewind of a running instance", running(true), "r", false, "e1", rewindReq(""), false, norewind},
		{"rewind of an unknown instance", nil, "r", false, "e1", rewindReq(""), false, norewind},
		{"rewind of a child not begun yet", pending, "r", false, "", rewindReq("p"), false, later},
		{"rewind whose worker died before its first commit", halfRewound, "r", true, "e1", rewindReq(""), false, rewind},
		{"child rewind whose worker died before its first commit", halfRewound, "r", true, "", rewindReq("p"), false, rewind},
		{"event for an execution rewound, not yet committed", halfRewound, "m", false, "", raised, false, later},
		{"rewind of a failed child by its parent", child(history.StatusFailed, history.ExecutionFailed), "r", false, "", rewindReq("p"), false, rewind},
		{"rewind of a failed child by another parent", child(history.StatusFailed, history.ExecutionFailed), "r", false, "", rewindReq("q"), false, norewind},
		{"rewind of a completed child by its parent", child(history.StatusCompleted, history.ExecutionCompleted), "r", false, "", rewindReq("p"), false, norewind},
		{"late result for the execution rewound from", rewound, "m2", false, "e1", completedLate, false, apply},
		{"late result for the execution rewound from, from cache", rewound, "m2", false, "e1", completedLate, true, apply},
		{"late activity failure for the execution rewound from", rewound, "m2", false, "e1", failedLate, false, stale},
		{"copy of a message the failed execution consumed", rewound, "m1", false, "e1", failedLate, false, seen},
	}
	// A message whose start never comes stops waiting for it.
	gone := arrival{id: "m", redelivered: true, deliveries: startWaitDeliveries, msg: history.ControlMessage{InstanceID: "i", Event: raised}}
	if got := classify(nil, gone, false); got != orphan {
		t.Fatalf("after %d deliveries without an instance: %s, want orphan", startWaitDeliveries, got)
	}
	if got := classify(pending, gone, false); got != orphan {
		t.Fatalf("after %d deliveries without a start: %s, want orphan", startWaitDeliveries, got)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := arrival{id: c.id, redelivered: c.redelivered, deliveries: 1, msg: history.ControlMessage{InstanceID: "i", ExecutionID: c.exec, Event: c.ev}}
			if got := classify(c.st, a, c.cached); got != c.want {
				t.Fatalf("classify = %s, want %s", got, c.want)
			}
		})
	}
	// A start says the number of the execution it begins (a continue-as-new's, or the one
	// the dispatcher recorded): the instance at that number or past it, with another
	// execution, drops it, from the store's word (a cached state reloads first).
	numbered := func(status history.Status, end history.Kind, executions int64) *instanceState {
		st := ended(status, end)
		st.inst.Executions = executions
		return st
	}
	recordedDoc := newState(history.Instance{InstanceID: "i", ExecutionID: "e9", Status: history.StatusPending, Executions: 3}, nil)
	for _, c := range []struct {
		name             string
		st               *instanceState
		number, recorded int64
		cached           bool
		want             verdict
	}{
		{"the next execution's start", numbered(history.StatusContinuedAsNew, history.ContinuedAsNew, 2), 3, 0, false, begin},
		{"a late copy, the instance past it", numbered(history.StatusCompleted, history.ExecutionCompleted, 4), 2, 0, false, stale},
		{"a late copy, the instance at its number", numbered(history.StatusContinuedAsNew, history.ContinuedAsNew, 3), 3, 0, false, stale},
		{"a late copy, from cache", numbered(history.StatusCompleted, history.ExecutionCompleted, 4), 2, 0, true, reload},
		{"a start without a number", numbered(history.StatusContinuedAsNew, history.ContinuedAsNew, 3), 0, 0, false, begin},
		{"a late copy of a start the dispatcher recorded", numbered(history.StatusCompleted, history.ExecutionCompleted, 4), 0, 3, false, stale},
		{"the start the dispatcher recorded (a restart)", recordedDoc, 0, 3, false, begin},
	} {
		a := arrival{id: "s", deliveries: 1, msg: history.ControlMessage{InstanceID: "i", ExecutionID: "e9", Event: start("e9"),
			Execution: c.number, Recorded: c.recorded}}
		if got := classify(c.st, a, c.cached); got != c.want {
			t.Errorf("%s: classify = %s, want %s", c.name, got, c.want)
		}
	}
}
