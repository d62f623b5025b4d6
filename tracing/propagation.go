package tracing

import (
	"context"
	"crypto/sha256"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/history"
)

// w3c is used directly rather than the global propagator: history and messages always
// carry W3C trace context, whatever a binary installs globally.
var w3c = propagation.TraceContext{}

const (
	traceParentKey = "traceparent"
	traceStateKey  = "tracestate"
)

// TraceContextOf returns sc as W3C trace context, or nil when sc is not valid.
func TraceContextOf(sc trace.SpanContext) *history.TraceContext {
	if !sc.IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	w3c.Inject(trace.ContextWithSpanContext(context.Background(), sc), c)
	return &history.TraceContext{TraceParent: c[traceParentKey], TraceState: c[traceStateKey]}
}

// SpanContextOf returns the remote span context tc's traceparent names (not tc.SpanID),
// or an invalid one when tc is nil or its traceparent is missing or malformed.
func SpanContextOf(tc *history.TraceContext) trace.SpanContext {
	if tc == nil {
		return trace.SpanContext{}
	}
	return MessageSpanContext(tc.TraceParent, tc.TraceState)
}

// ContextFrom returns the span context in ctx as W3C trace context, or nil when ctx has
// none.
func ContextFrom(ctx context.Context) *history.TraceContext {
	return TraceContextOf(trace.SpanContextFromContext(ctx))
}

// ContextWith returns ctx carrying tc's traceparent as its remote parent; ctx itself when
// tc names no valid span.
func ContextWith(ctx context.Context, tc *history.TraceContext) context.Context {
	sc := SpanContextOf(tc)
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// NewOrchestrationTrace is the Trace of a new instance's ExecutionStarted: the caller's
// span in ctx (if any) and a fresh span id for the orchestration span.
func NewOrchestrationTrace(ctx context.Context) *history.TraceContext {
	tc := ContextFrom(ctx)
	if tc == nil {
		tc = &history.TraceContext{}
	}
	tc.SpanID = NewSpanID()
	return tc
}

// OrchestrationSpanContext is the context of the orchestration span of the execution that
// started: the trace of its caller, the span id fixed in started.Trace.SpanID. Activities
// and children are parented to it long before the span itself is exported. An execution
// started without a caller's traceparent is the root of its own trace, whose id is derived
// from the execution id and the span id so that every worker computes the same one. The
// result is invalid when started carries no span id.
func OrchestrationSpanContext(started history.Event) trace.SpanContext {
	if started.Trace == nil {
		return trace.SpanContext{}
	}
	sid, err := trace.SpanIDFromHex(started.Trace.SpanID)
	if err != nil {
		return trace.SpanContext{}
	}
	caller := SpanContextOf(started.Trace)
	if !caller.IsValid() {
		return trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: rootTraceID(started.ExecutionID, sid), SpanID: sid,
			TraceFlags: trace.FlagsSampled, Remote: true,
		})
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: caller.TraceID(), SpanID: sid,
		TraceFlags: caller.TraceFlags(), TraceState: caller.TraceState(), Remote: true,
	})
}

// rootTraceID derives the trace id of an orchestration that has no caller.
func rootTraceID(executionID string, sid trace.SpanID) trace.TraceID {
	h := sha256.New()
	h.Write([]byte("warren orchestration trace\x00"))
	h.Write([]byte(executionID))
	h.Write(sid[:])
	var tid trace.TraceID
	copy(tid[:], h.Sum(nil))
	return tid
}

// MessageTrace returns the traceparent and tracestate headers of a message sent on behalf
// of the span in ctx (empty when there is none): m.TraceParent, m.TraceState =
// tracing.MessageTrace(ctx).
func MessageTrace(ctx context.Context) (traceParent, traceState string) {
	tc := ContextFrom(ctx)
	if tc == nil {
		return "", ""
	}
	return tc.TraceParent, tc.TraceState
}

// MessageSpanContext returns the remote span context a message's traceparent and
// tracestate headers name; invalid when traceParent is missing or malformed.
func MessageSpanContext(traceParent, traceState string) trace.SpanContext {
	if traceParent == "" {
		return trace.SpanContext{}
	}
	c := propagation.MapCarrier{traceParentKey: traceParent}
	if traceState != "" {
		c[traceStateKey] = traceState
	}
	return trace.SpanContextFromContext(w3c.Extract(context.Background(), c))
}

// ContextWithMessage returns ctx carrying the span a message's headers name as its remote
// parent; ctx itself when they name none.
func ContextWithMessage(ctx context.Context, traceParent, traceState string) context.Context {
	sc := MessageSpanContext(traceParent, traceState)
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// InjectHTTP sets the traceparent and tracestate headers of an outgoing request to the
// span in ctx.
func InjectHTTP(ctx context.Context, h http.Header) {
	w3c.Inject(ctx, propagation.HeaderCarrier(h))
}

// ExtractHTTP returns ctx carrying the caller's span named by an incoming request's
// headers as its remote parent; ctx itself when they name none.
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	return w3c.Extract(ctx, propagation.HeaderCarrier(h))
}
