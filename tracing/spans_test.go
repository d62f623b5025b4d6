package tracing

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/history"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func at(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }

// TestOrchestrationTree builds the trace of a parent orchestration with a retried activity,
// a timer and a failing child the way the dispatcher and the workers will: only through
// history events and messages, with the pieces recorded by two different "workers" (tracer
// providers), in the order they end. Every span must hang where the design says.
func TestOrchestrationTree(t *testing.T) {
	client, clientRec := recordingTracer(t)
	workerA, recA := recordingTracer(t)
	workerB, recB := recordingTracer(t)

	// The client creates the instance; ExecutionStarted keeps its context and a fixed id.
	ctx, create := StartCreateOrchestration(context.Background(), client, "Parent", "p")
	started := history.Event{
		Kind: history.ExecutionStarted, Timestamp: at(0), Name: "Parent", ExecutionID: "pe",
		Trace: NewOrchestrationTrace(ctx),
	}
	create.End()
	parentSC := OrchestrationSpanContext(started)

	// Worker A runs two attempts of an activity, parented through the request's Trace.
	req := history.ActivityRequest{InstanceID: "p", ExecutionID: "pe", OrchestrationName: "Parent",
		TaskID: 0, Name: "Fetch", Trace: TraceContextOf(parentSC)}
	req.Attempt = 1
	_, end := StartActivity(context.Background(), workerA, req)
	end(&history.Failure{Type: "IOError", Message: "connection reset"})
	req.Attempt = 2
	actx, end := StartActivity(context.Background(), workerA, req)
	if sc := trace.SpanContextFromContext(actx); sc.TraceID() != parentSC.TraceID() {
		t.Errorf("activity context trace %s, want %s", sc.TraceID(), parentSC.TraceID())
	}
	end(nil)

	// Worker B: the retry timer between them, and the child it starts (as the worker builds
	// a child's ExecutionStarted: the parent's orchestration span as caller, a new span id).
	ExportWait(workerB, parentSC, "p", "pe", Wait{Kind: WaitTimer, Name: "retry Fetch", TaskID: 1, Start: at(1), End: at(3)})
	child := history.Event{
		Kind: history.ExecutionStarted, Timestamp: at(4), Name: "Child", ExecutionID: "ce",
		Parent: &history.ParentRef{InstanceID: "p", ExecutionID: "pe", TaskID: 2, Name: "Parent"},
		Trace:  &history.TraceContext{TraceParent: TraceContextOf(parentSC).TraceParent, SpanID: NewSpanID()},
	}
	childSC := OrchestrationSpanContext(child)
	creq := history.ActivityRequest{InstanceID: "p:2", ExecutionID: "ce", OrchestrationName: "Child",
		TaskID: 0, Name: "Install", Attempt: 1, Trace: TraceContextOf(childSC)}
	_, end = StartActivity(context.Background(), workerB, creq)
	end(nil)
	ExportWait(workerA, childSC, "p:2", "ce", Wait{Kind: WaitEvent, Name: "Ack", TaskID: 1, Start: at(5), End: at(8), TimedOut: true})
	ExportOrchestration(workerA, "p:2", child, at(8), history.StatusFailed,
		&history.Failure{Type: "TaskFailedError", Message: "no ack from device"})
	ExportOrchestration(workerB, "p", started, at(9), history.StatusCompleted, nil)

	rec := append(append(append([]sdktrace.ReadOnlySpan{}, clientRec.Ended()...), recA.Ended()...), recB.Ended()...)
	if len(rec) != 8 {
		t.Fatalf("recorded %d spans, want 8", len(rec))
	}
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range rec {
		byName[s.Name()] = append(byName[s.Name()], s)
		if s.SpanContext().TraceID() != parentSC.TraceID() {
			t.Errorf("span %q in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), parentSC.TraceID())
		}
	}
	one := func(name string) sdktrace.ReadOnlySpan {
		t.Helper()
		if len(byName[name]) != 1 {
			t.Fatalf("%d spans %q, want 1", len(byName[name]), name)
		}
		return byName[name][0]
	}
	createSpan := one("create_orchestration Parent")
	orch := one("orchestration Parent")
	childOrch := one("orchestration Child")
	timer := one("timer")
	event := one("event Ack")
	install := one("activity Install")
	fetches := byName["activity Fetch"]
	if len(fetches) != 2 {
		t.Fatalf("%d spans \"activity Fetch\", want one per attempt (2)", len(fetches))
	}

	wantParent := func(s, parent sdktrace.ReadOnlySpan) {
		t.Helper()
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%q has parent %s, want %q (%s)", s.Name(), s.Parent().SpanID(), parent.Name(), parent.SpanContext().SpanID())
		}
	}
	if createSpan.Parent().IsValid() || createSpan.SpanKind() != trace.SpanKindClient {
		t.Errorf("create_orchestration: parent %v kind %v, want a client root", createSpan.Parent(), createSpan.SpanKind())
	}
	wantParent(orch, createSpan)
	wantParent(fetches[0], orch)
	wantParent(fetches[1], orch)
	wantParent(timer, orch)
	wantParent(childOrch, orch)
	wantParent(install, childOrch)
	wantParent(event, childOrch)

	// The orchestration spans carry their fixed ids and their true times.
	if orch.SpanContext().SpanID().String() != started.Trace.SpanID || childOrch.SpanContext().SpanID().String() != child.Trace.SpanID {
		t.Errorf("orchestration span ids %s, %s; want the fixed %s, %s", orch.SpanContext().SpanID(),
			childOrch.SpanContext().SpanID(), started.Trace.SpanID, child.Trace.SpanID)
	}
	for _, c := range []struct {
		s          sdktrace.ReadOnlySpan
		start, end time.Time
	}{{orch, at(0), at(9)}, {childOrch, at(4), at(8)}, {timer, at(1), at(3)}, {event, at(5), at(8)}} {
		if !c.s.StartTime().Equal(c.start) || !c.s.EndTime().Equal(c.end) {
			t.Errorf("%q runs %s..%s, want %s..%s", c.s.Name(), c.s.StartTime(), c.s.EndTime(), c.start, c.end)
		}
	}

	// Status: the failed child and the failed attempt are errors, the parent is not.
	if st := childOrch.Status(); st.Code != codes.Error || st.Description != "no ack from device" {
		t.Errorf("failed child status %+v", st)
	}
	if st := orch.Status(); st.Code == codes.Error {
		t.Errorf("completed parent has error status %+v", st)
	}
	attempts := map[string]codes.Code{}
	for _, f := range fetches {
		attempts[attr(f, "warren.attempt")] = f.Status().Code
	}
	if attempts["1"] != codes.Error || attempts["2"] != codes.Unset || len(attempts) != 2 {
		t.Errorf("attempt statuses %v, want attempt 1 failed and attempt 2 not", attempts)
	}

	// Attributes.
	checks := []struct {
		s          sdktrace.ReadOnlySpan
		key, value string
	}{
		{orch, "warren.instance.id", "p"}, {orch, "warren.execution.id", "pe"}, {orch, "warren.status", "Completed"},
		{childOrch, "warren.instance.id", "p:2"}, {childOrch, "warren.parent.instance.id", "p"},
		{childOrch, "warren.task.id", "2"}, {childOrch, "warren.status", "Failed"},
		{install, "warren.task.id", "0"}, {install, "warren.attempt", "1"}, {install, "warren.execution.id", "ce"},
		{timer, "warren.task.id", "1"}, {timer, "warren.instance.id", "p"}, {timer, "warren.timer.name", "retry Fetch"},
		{event, "warren.event.name", "Ack"}, {event, "warren.timed_out", "true"}, {event, "warren.instance.id", "p:2"},
		{createSpan, "warren.instance.id", "p"},
	}
	for _, c := range checks {
		if got := attr(c.s, c.key); got != c.value {
			t.Errorf("%q %s = %q, want %q", c.s.Name(), c.key, got, c.value)
		}
	}
}

func TestExportOrchestrationFailed(t *testing.T) {
	tracer, rec := recordingTracer(t)
	started := history.Event{Kind: history.ExecutionStarted, Timestamp: at(0), Name: "F", ExecutionID: "e",
		Trace: &history.TraceContext{TraceParent: callerTraceParent, SpanID: "1234567812345678"}}
	ExportOrchestration(tracer, "i", started, at(2), history.StatusFailed,
		&history.Failure{Type: "ApplicationError", Message: "boom", Stack: "main.go:1"})

	s := spanNamed(t, rec, "orchestration F")
	if s.Status().Code != codes.Error || s.Status().Description != "boom" {
		t.Fatalf("status %+v, want error \"boom\"", s.Status())
	}
	if s.Parent().SpanID().String() != callerSpanID || s.SpanContext().TraceID().String() != callerTraceID {
		t.Errorf("parent %s trace %s, want the caller %s in %s", s.Parent().SpanID(), s.SpanContext().TraceID(), callerSpanID, callerTraceID)
	}
	if len(s.Events()) != 1 || s.Events()[0].Name != "exception" || !s.Events()[0].Time.Equal(at(2)) {
		t.Fatalf("events %+v, want one exception at the end", s.Events())
	}
	got := map[string]string{}
	for _, kv := range s.Events()[0].Attributes {
		got[string(kv.Key)] = kv.Value.String()
	}
	if got["exception.type"] != "ApplicationError" || got["exception.message"] != "boom" || got["exception.stacktrace"] != "main.go:1" {
		t.Errorf("exception attributes %v", got)
	}
}

func TestExportOrchestrationWithoutCallerIsTheRoot(t *testing.T) {
	tracer, rec := recordingTracer(t)
	started := history.Event{Kind: history.ExecutionStarted, Timestamp: at(0), Name: "Solo", ExecutionID: "e",
		Trace: &history.TraceContext{SpanID: "abcdefabcdef0001"}}
	sc := OrchestrationSpanContext(started)
	_, end := StartActivity(context.Background(), tracer, history.ActivityRequest{Name: "A", Attempt: 1, Trace: TraceContextOf(sc)})
	end(nil)
	ExportOrchestration(tracer, "i", started, at(1), history.StatusCompleted, nil)

	orch := spanNamed(t, rec, "orchestration Solo")
	act := spanNamed(t, rec, "activity A")
	if orch.Parent().IsValid() {
		t.Errorf("orchestration without caller has parent %s", orch.Parent().SpanID())
	}
	if orch.SpanContext().TraceID() != sc.TraceID() || orch.SpanContext().SpanID() != sc.SpanID() {
		t.Errorf("orchestration %s/%s, want %s/%s", orch.SpanContext().TraceID(), orch.SpanContext().SpanID(), sc.TraceID(), sc.SpanID())
	}
	if act.Parent().SpanID() != sc.SpanID() || act.SpanContext().TraceID() != sc.TraceID() {
		t.Errorf("activity parent %s in %s, want %s in %s", act.Parent().SpanID(), act.SpanContext().TraceID(), sc.SpanID(), sc.TraceID())
	}
}

func TestExportOrchestrationWithoutSpanIDRecordsNothing(t *testing.T) {
	tracer, rec := recordingTracer(t)
	ExportOrchestration(tracer, "i", history.Event{Name: "X", Trace: &history.TraceContext{TraceParent: callerTraceParent}},
		at(1), history.StatusCompleted, nil)
	ExportOrchestration(tracer, "i", history.Event{Name: "X"}, at(1), history.StatusCompleted, nil)
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("recorded %d spans (%v), want none", n, spanNames(rec))
	}
}

func TestExportWaitClampsAMissingStart(t *testing.T) {
	tracer, rec := recordingTracer(t)
	ExportWait(tracer, trace.SpanContext{}, "i", "e", Wait{Kind: WaitTimer, TaskID: 4, End: at(5)})
	s := spanNamed(t, rec, "timer")
	if !s.StartTime().Equal(at(5)) || !s.EndTime().Equal(at(5)) {
		t.Errorf("timer runs %s..%s, want a zero-length span at %s", s.StartTime(), s.EndTime(), at(5))
	}
}
