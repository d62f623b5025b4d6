package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/history"
)

// Attribute keys Warren puts on its spans.
const (
	AttrInstanceID        = attribute.Key("warren.instance.id")
	AttrExecutionID       = attribute.Key("warren.execution.id")
	AttrTaskID            = attribute.Key("warren.task.id")
	AttrAttempt           = attribute.Key("warren.attempt")
	AttrOrchestrationName = attribute.Key("warren.orchestration.name")
	AttrActivityName      = attribute.Key("warren.activity.name")
	AttrEventName         = attribute.Key("warren.event.name")
	AttrStatus            = attribute.Key("warren.status")
	AttrParentInstanceID  = attribute.Key("warren.parent.instance.id")
	AttrTimedOut          = attribute.Key("warren.timed_out")
	AttrTimerName         = attribute.Key("warren.timer.name")
)

// StartCreateOrchestration opens the span of a request that creates an instance, as a
// child of the span in ctx. Send its context on with InjectHTTP or in the instance's
// ExecutionStarted (NewOrchestrationTrace), and end it when the request is answered.
func StartCreateOrchestration(ctx context.Context, tracer trace.Tracer, name, instanceID string) (context.Context, trace.Span) {
	return tracer.Start(ctx, "create_orchestration "+name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrOrchestrationName.String(name), AttrInstanceID.String(instanceID)))
}

// ExportOrchestration records the span of one execution of instanceID, which began with
// started and ended at end with status (and failure, when it failed). Call it once, when the
// execution ends: the span gets the id fixed in started.Trace.SpanID, started.Timestamp as
// its start, and the caller in started.Trace.TraceParent as its parent. It records nothing
// when started carries no span id.
func ExportOrchestration(tracer trace.Tracer, instanceID string, started history.Event, end time.Time, status history.Status, failure *history.Failure) {
	sc := OrchestrationSpanContext(started)
	if !sc.IsValid() {
		return
	}
	ctx := context.Background()
	if caller := SpanContextOf(started.Trace); caller.IsValid() {
		ctx = WithSpanID(trace.ContextWithRemoteSpanContext(ctx, caller), sc.SpanID())
	} else {
		ctx = withRootIDs(ctx, sc.TraceID(), sc.SpanID())
	}
	start := started.Timestamp
	if start.IsZero() || start.After(end) {
		start = end
	}
	attrs := []attribute.KeyValue{
		AttrOrchestrationName.String(started.Name),
		AttrInstanceID.String(instanceID),
		AttrExecutionID.String(started.ExecutionID),
		AttrStatus.String(string(status)),
	}
	if started.Parent != nil {
		attrs = append(attrs, AttrParentInstanceID.String(started.Parent.InstanceID),
			AttrTaskID.Int64(started.Parent.TaskID))
	}
	if started.Attempt > 0 {
		attrs = append(attrs, AttrAttempt.Int(started.Attempt))
	}
	_, span := tracer.Start(ctx, "orchestration "+started.Name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(attrs...))
	if status == history.StatusFailed {
		fail(span, failure, end)
	}
	span.End(trace.WithTimestamp(end))
}

// StartActivity opens the span of one attempt of an activity, as a child of the
// orchestration span named by req.Trace. The returned function ends it, with error status
// when the attempt failed (non-nil failure).
func StartActivity(ctx context.Context, tracer trace.Tracer, req history.ActivityRequest) (context.Context, func(*history.Failure)) {
	ctx, end := StartActivityAt(ctx, tracer, req, time.Now())
	return ctx, func(failure *history.Failure) { end(failure, time.Now()) }
}

// StartActivityAt is StartActivity on a clock of the caller's (durabletest's virtual one):
// the span starts at start and ends when the returned function says.
func StartActivityAt(ctx context.Context, tracer trace.Tracer, req history.ActivityRequest, start time.Time) (context.Context, func(failure *history.Failure, end time.Time)) {
	if parent := SpanContextOf(req.Trace); parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx, span := tracer.Start(ctx, "activity "+req.Name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			AttrActivityName.String(req.Name),
			AttrOrchestrationName.String(req.OrchestrationName),
			AttrInstanceID.String(req.InstanceID),
			AttrExecutionID.String(req.ExecutionID),
			AttrTaskID.Int64(req.TaskID),
			AttrAttempt.Int(req.Attempt),
		))
	return ctx, func(failure *history.Failure, end time.Time) {
		if failure != nil {
			fail(span, failure, end)
		}
		span.End(trace.WithTimestamp(end))
	}
}

// Kinds of Wait.
const (
	WaitTimer = "timer" // a durable timer, from its creation to its firing
	WaitEvent = "event" // a wait for an external event, to its arrival or its timeout
)

// Wait is a timer or an external-event wait that ended in an episode, as the executor
// reports it: everything ExportWait needs, in plain values. durable.FinishedWait has the
// same fields, so tracing.Wait(f) converts one.
type Wait struct {
	Kind     string // WaitTimer or WaitEvent
	Name     string // the event's name (WaitEvent); what a timer is for, if anything
	TaskID   int64
	Start    time.Time // when the orchestrator created the timer or began to wait
	End      time.Time // when the timer fired, the event arrived or the wait timed out
	TimedOut bool      // an event wait ended by its timeout
}

// ExportWait records the span of a timer ("timer") or of a wait for an external event
// ("event <name>") of the orchestration whose span is parent, from w.Start to w.End.
func ExportWait(tracer trace.Tracer, parent trace.SpanContext, instanceID, executionID string, w Wait) {
	name := "timer"
	attrs := []attribute.KeyValue{
		AttrInstanceID.String(instanceID),
		AttrExecutionID.String(executionID),
		AttrTaskID.Int64(w.TaskID),
	}
	if w.Kind == WaitEvent {
		name = "event " + w.Name
		attrs = append(attrs, AttrEventName.String(w.Name), AttrTimedOut.Bool(w.TimedOut))
	} else if w.Name != "" {
		attrs = append(attrs, AttrTimerName.String(w.Name))
	}
	start := w.Start
	if start.IsZero() || start.After(w.End) {
		start = w.End
	}
	ctx := context.Background()
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	_, span := tracer.Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(start),
		trace.WithAttributes(attrs...))
	span.End(trace.WithTimestamp(w.End))
}

// fail marks span failed with failure's message and records it as an exception event.
func fail(span trace.Span, failure *history.Failure, at time.Time) {
	if failure == nil {
		span.SetStatus(codes.Error, "failed")
		return
	}
	span.SetStatus(codes.Error, failure.Message)
	attrs := []attribute.KeyValue{
		semconv.ExceptionTypeKey.String(failure.Type),
		semconv.ExceptionMessageKey.String(failure.Message),
	}
	if failure.Stack != "" {
		attrs = append(attrs, semconv.ExceptionStacktraceKey.String(failure.Stack))
	}
	span.AddEvent("exception", trace.WithTimestamp(at), trace.WithAttributes(attrs...))
}
