package tracing

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/history"
)

// benchTracer records into an in-memory exporter through a synchronous processor, which
// it resets now and then so memory stays flat: the cost measured is building the spans.
func benchTracer(b *testing.B) (trace.Tracer, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithIDGenerator(IDGenerator{}), sdktrace.WithSyncer(exp))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("bench"), exp
}

func benchStarted() history.Event {
	return history.Event{Kind: history.ExecutionStarted, Timestamp: t0, Name: "Bench", ExecutionID: "e",
		Trace: &history.TraceContext{TraceParent: callerTraceParent, SpanID: NewSpanID()}}
}

func BenchmarkExportOrchestration(b *testing.B) {
	tracer, exp := benchTracer(b)
	started := benchStarted()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ExportOrchestration(tracer, "i", started, at(1), history.StatusCompleted, nil)
		if i%1024 == 0 {
			exp.Reset()
		}
	}
}

func BenchmarkStartActivity(b *testing.B) {
	tracer, exp := benchTracer(b)
	req := history.ActivityRequest{InstanceID: "i", ExecutionID: "e", Name: "A", Attempt: 1,
		Trace: TraceContextOf(OrchestrationSpanContext(benchStarted()))}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, end := StartActivity(ctx, tracer, req)
		end(nil)
		if i%1024 == 0 {
			exp.Reset()
		}
	}
}

func BenchmarkOrchestrationTrace(b *testing.B) {
	started := benchStarted()
	b.ReportAllocs()
	for b.Loop() {
		if TraceContextOf(OrchestrationSpanContext(started)) == nil {
			b.Fatal("no trace context")
		}
	}
}
