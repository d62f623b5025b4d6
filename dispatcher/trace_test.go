package dispatcher

import (
	"encoding/json"
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/tracing"
)

// With a tracing SDK, the dispatcher's create_orchestration span is a child of the caller's
// span (W3C headers), and the orchestration span will be a child of it.
func TestStartTracesCreateOrchestration(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithIDGenerator(tracing.IDGenerator{}))
	defer tp.Shutdown(t.Context())
	r := newRig(t, Config{Tracer: tp.Tracer("test")})
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"traced"}`, "traceparent", "00-"+tid+"-00f067aa0ba902b7-01")
	if a.code != http.StatusAccepted || a.status(t).TraceID != tid {
		t.Fatalf("%d %s", a.code, a.body)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "create_orchestration Hello" || s.Parent().SpanID().String() != "00f067aa0ba902b7" || s.SpanContext().TraceID().String() != tid {
		t.Fatalf("span %q parent %s trace %s", s.Name(), s.Parent().SpanID(), s.SpanContext().TraceID())
	}
	var sent []byte
	for _, msgs := range r.broker.sent {
		sent = msgs[0].Body
	}
	var cm history.ControlMessage
	if err := json.Unmarshal(sent, &cm); err != nil {
		t.Fatal(err)
	}
	caller := tracing.SpanContextOf(cm.Event.Trace)
	if caller.SpanID() != s.SpanContext().SpanID() || tracing.OrchestrationSpanContext(cm.Event).TraceID().String() != tid {
		t.Fatalf("ExecutionStarted trace %+v does not name the create_orchestration span %s", cm.Event.Trace, s.SpanContext().SpanID())
	}
}
