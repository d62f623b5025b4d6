package durabletest

import (
	"context"
	"encoding/json"

	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/tracing"
)

// SetTracer makes the harness export the spans a worker would, through tracer, on the
// virtual clock: one "activity" span per attempt, and per episode the "timer" and "event"
// spans it ended and, when the execution ends, its "orchestration" span
// (tracing.ExportEpisode, the function the worker calls). Set it before starting instances:
// only instances started afterwards get the trace context in their ExecutionStarted that
// their spans hang from. It may be changed between episodes (from OnEpisode, say) to stand
// for different workers; nil turns tracing off.
//
// tracer's provider must use tracing.IDGenerator, or orchestration spans are exported under
// random ids and their children hang off spans that are never seen.
func (h *Harness) SetTracer(tracer trace.Tracer) { h.tracer = tracer }

// StartContext is Start for a caller whose span is in ctx (a create_orchestration span,
// say): with a tracer set, the orchestration's span becomes that span's child, in its trace.
func (h *Harness) StartContext(ctx context.Context, name, instanceID string, input any) error {
	return h.start(ctx, name, instanceID, input)
}

// newTrace is the Trace of a new instance's ExecutionStarted, as the dispatcher makes it:
// the caller's span in ctx and a fresh id for the orchestration span. Nil without a tracer.
func (h *Harness) newTrace(ctx context.Context) *history.TraceContext {
	if h.tracer == nil {
		return nil
	}
	return tracing.NewOrchestrationTrace(ctx)
}

// orchestrationTrace is the context an execution's activities and children are parented
// to: its orchestration span, whose id was fixed when it started. Nil when it has none.
func orchestrationTrace(started history.Event) *history.TraceContext {
	return tracing.TraceContextOf(tracing.OrchestrationSpanContext(started))
}

// childTrace is the Trace of a child's ExecutionStarted, as the worker makes it: the
// parent's orchestration span as caller and a fresh id for the child's own span.
func (h *Harness) childTrace(parent history.Event) *history.TraceContext {
	if h.tracer == nil {
		return nil
	}
	tc := &history.TraceContext{SpanID: tracing.NewSpanID()}
	if p := orchestrationTrace(parent); p != nil {
		tc.TraceParent, tc.TraceState = p.TraceParent, p.TraceState
	}
	return tc
}

// nextTrace is the Trace of the execution that continues as new after one that carried tc:
// the same caller, a span of its own.
func nextTrace(tc *history.TraceContext) *history.TraceContext {
	if tc == nil {
		return nil
	}
	next := *tc
	next.SpanID = tracing.NewSpanID()
	return &next
}

// runActivity runs one attempt of the activity a asks for, inside its span when tracing.
// The clock does not move while an activity runs, so its span starts and ends at h.now.
func (h *Harness) runActivity(inst *instance, a durable.Action) (json.RawMessage, *history.Failure) {
	ctx := context.Background()
	info := durable.ActivityInfo{InstanceID: inst.id, ExecutionID: inst.executionID, TaskID: a.TaskID, Name: a.Name,
		Attempt: a.Attempt, Timeout: a.Timeout, HeartbeatTimeout: a.HeartbeatTimeout, LastHeartbeat: string(a.LastHeartbeat)}
	reg := h.activityRegistry(a.Name)
	if h.tracer == nil {
		return reg.RunActivity(ctx, info, a.Name, a.Input)
	}
	req := history.ActivityRequest{
		InstanceID: inst.id, ExecutionID: inst.executionID, OrchestrationName: inst.started.Name,
		TaskID: a.TaskID, Name: a.Name, Attempt: a.Attempt, Trace: orchestrationTrace(inst.started),
	}
	ctx, end := tracing.StartActivityAt(ctx, h.tracer, req, h.now)
	out, failure := reg.RunActivity(ctx, info, a.Name, a.Input)
	end(failure, h.now)
	return out, failure
}

// traceEpisode exports what the episode of the instance whose execution began with started
// ended, exactly as a worker does after committing it.
func (h *Harness) traceEpisode(instanceID string, started history.Event, res *durable.Result) {
	if h.tracer == nil {
		return
	}
	waits := make([]tracing.Wait, len(res.Finished))
	for i, f := range res.Finished {
		waits[i] = tracing.Wait(f)
	}
	tracing.ExportEpisode(h.tracer, instanceID, started, waits, res.Status, res.Failure, h.now)
}
