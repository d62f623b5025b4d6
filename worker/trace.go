package worker

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/tracing"
)

// orchestrationTrace is the context that an orchestration's activities and children are
// parented to: its trace, and the span id fixed for it when the instance was created.
func orchestrationTrace(started history.Event) *history.TraceContext {
	sc := tracing.OrchestrationSpanContext(started)
	if !sc.IsValid() {
		return nil
	}
	return tracing.TraceContextOf(sc)
}

func traceIDOf(tc *history.TraceContext) string {
	if tc == nil {
		return ""
	}
	sc := tracing.SpanContextOf(tc)
	if !sc.TraceID().IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

func (w *Worker) newSpanID() string { return tracing.NewSpanID() }

// startActivitySpan opens the span of one activity attempt; end closes it with the outcome.
func (w *Worker) startActivitySpan(ctx context.Context, req history.ActivityRequest) (context.Context, func(*history.Failure)) {
	if w.cfg.Tracer == nil {
		return ctx, func(*history.Failure) {}
	}
	return tracing.StartActivity(ctx, w.cfg.Tracer, req)
}

// traceEpisode exports the spans that a committed episode ended (tracing.ExportEpisode):
// its timers and event waits, and the orchestration span itself when the execution is over.
// Replayed parts of history are never exported again: the executor reports only what ended
// in this episode.
func (w *Worker) traceEpisode(p *episodePlan) {
	if w.cfg.Tracer == nil {
		return
	}
	o := p.result
	waits := make([]tracing.Wait, len(o.res.Finished))
	for i, f := range o.res.Finished {
		waits[i] = tracing.Wait(f)
	}
	tracing.ExportEpisode(w.cfg.Tracer, p.id, o.started, waits, o.res.Status, o.res.Failure, o.now)
}

// spanContext is the orchestration span of the state's execution, for log lines (invalid
// when the state is nil or has no trace).
func (s *instanceState) spanContext() trace.SpanContext {
	if s == nil {
		return trace.SpanContext{}
	}
	return tracing.OrchestrationSpanContext(s.started)
}

// deliverySpan is the span context a message carries (its sender's), for log lines.
func deliverySpan(d *queues.Delivery) trace.SpanContext {
	return tracing.MessageSpanContext(d.TraceParent, d.TraceState)
}
