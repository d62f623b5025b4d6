package tracing

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// IDGenerator is the SDK's id generator with one addition: a span started with a context
// from WithSpanID gets the chosen span id instead of a random one. Install it with
// sdktrace.WithIDGenerator(tracing.IDGenerator{}); Setup does.
type IDGenerator struct{}

var _ sdktrace.IDGenerator = IDGenerator{}

// chosenIDs is the id a context asks for. It is taken once: spans started later from the
// same context, or from the context of the span that took it, get random ids again.
type chosenIDs struct {
	spanID trace.SpanID
	// traceID, when valid, is the trace id of a root span (one without a parent).
	traceID trace.TraceID
	taken   atomic.Bool
}

type chosenIDsKey struct{}

// WithSpanID returns a context whose next span, started by a tracer provider that uses
// IDGenerator, gets exactly id.
func WithSpanID(ctx context.Context, id trace.SpanID) context.Context {
	return context.WithValue(ctx, chosenIDsKey{}, &chosenIDs{spanID: id})
}

// withRootIDs is WithSpanID for a span without a parent: it also chooses the trace id.
func withRootIDs(ctx context.Context, tid trace.TraceID, sid trace.SpanID) context.Context {
	return context.WithValue(ctx, chosenIDsKey{}, &chosenIDs{spanID: sid, traceID: tid})
}

// take returns the ids ctx asks for, if any and not taken yet.
func take(ctx context.Context) (*chosenIDs, bool) {
	c, _ := ctx.Value(chosenIDsKey{}).(*chosenIDs)
	if c == nil || !c.spanID.IsValid() || !c.taken.CompareAndSwap(false, true) {
		return nil, false
	}
	return c, true
}

// NewIDs returns the ids of a root span: the chosen ones when ctx carries them.
func (IDGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if c, ok := take(ctx); ok {
		if c.traceID.IsValid() {
			return c.traceID, c.spanID
		}
		return randomTraceID(), c.spanID
	}
	return randomTraceID(), randomSpanID()
}

// NewSpanID returns the id of a span in an existing trace: the chosen one when ctx
// carries it.
func (IDGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if c, ok := take(ctx); ok {
		return c.spanID
	}
	return randomSpanID()
}

// NewSpanID returns a random span id as 16 lower-case hex digits, the form
// history.TraceContext.SpanID keeps: the dispatcher and the worker fix an orchestration
// span's id with it when they create the instance.
func NewSpanID() string { return randomSpanID().String() }

func randomSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		binary.NativeEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}

func randomTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		binary.NativeEndian.PutUint64(id[:8], rand.Uint64())
		binary.NativeEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}
