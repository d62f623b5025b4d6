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

// A caller that sends its trace context (the client binary, which opened its own
// create_orchestration span) is the orchestration's parent, and the dispatcher adds no
// span; a caller without one gets a create_orchestration span from the dispatcher, which
// then starts the trace.
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
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d dispatcher spans for a traced caller, want 0", n)
	}
	caller := tracing.SpanContextOf(lastStart(t, r, "traced").Trace)
	if caller.SpanID().String() != "00f067aa0ba902b7" || caller.TraceID().String() != tid {
		t.Fatalf("ExecutionStarted names caller %s/%s, want the request's span", caller.TraceID(), caller.SpanID())
	}

	b := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"untraced"}`)
	if b.code != http.StatusAccepted {
		t.Fatalf("%d %s", b.code, b.body)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "create_orchestration Hello" || s.Parent().IsValid() || b.status(t).TraceID != s.SpanContext().TraceID().String() {
		t.Fatalf("span %q parent %v trace %s (status trace %s)", s.Name(), s.Parent(), s.SpanContext().TraceID(), b.status(t).TraceID)
	}
	if caller := tracing.SpanContextOf(lastStart(t, r, "untraced").Trace); caller.SpanID() != s.SpanContext().SpanID() {
		t.Fatalf("ExecutionStarted names caller %s, want the dispatcher's span %s", caller.SpanID(), s.SpanContext().SpanID())
	}
}

// lastStart is the ExecutionStarted the rig's broker received for instance id.
func lastStart(t *testing.T, r *rig, id string) history.Event {
	t.Helper()
	for _, msgs := range r.broker.sent {
		for _, m := range msgs {
			var cm history.ControlMessage
			if err := json.Unmarshal(m.Body, &cm); err != nil {
				t.Fatal(err)
			}
			if cm.InstanceID == id && cm.Event.Kind == history.ExecutionStarted {
				return cm.Event
			}
		}
	}
	t.Fatalf("no ExecutionStarted sent for %s", id)
	return history.Event{}
}
