package dispatcher

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// w3c is the W3C trace-context propagator. It is used directly rather than the global one
// so that a caller's traceparent is honoured even before tracing is set up.
var w3c = propagation.TraceContext{}

// extractTrace returns the request's context carrying the caller's span context, if any.
func extractTrace(r *http.Request) context.Context {
	return w3c.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
}

// messageTrace is the traceparent/tracestate a control message carries: the span in ctx.
func messageTrace(ctx context.Context) (traceParent, traceState string) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return "", ""
	}
	return traceParentOf(sc), sc.TraceState().String()
}
