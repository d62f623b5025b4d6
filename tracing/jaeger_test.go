package tracing

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/testenv"
)

// jaegerTracer exports synchronously to the test Jaeger as service.
func jaegerTracer(t *testing.T, service string) trace.Tracer {
	t.Helper()
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(testenv.JaegerOTLPEndpoint()+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithIDGenerator(IDGenerator{}),
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))),
	)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("tracing-test")
}

// jaegerSpan is what the test reads of a span from Jaeger's /api/traces/{id}.
type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	StartTime int64  `json:"startTime"` // microseconds since the epoch
	Duration  int64  `json:"duration"`  // microseconds
	ProcessID string `json:"processID"`
}

// jaegerTrace polls Jaeger until the trace has want spans or the deadline passes.
func jaegerTrace(t *testing.T, traceID string, want int) (spans []jaegerSpan, services map[string]string) {
	t.Helper()
	url := testenv.JaegerQueryURL() + "/api/traces/" + traceID
	deadline := time.Now().Add(15 * time.Second)
	for {
		var body struct {
			Data []struct {
				Spans     []jaegerSpan `json:"spans"`
				Processes map[string]struct {
					ServiceName string `json:"serviceName"`
				} `json:"processes"`
			} `json:"data"`
		}
		resp, err := http.Get(url)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				err = json.NewDecoder(resp.Body).Decode(&body)
			} else {
				err = fmt.Errorf("GET %s: %s", url, resp.Status)
			}
			resp.Body.Close()
		}
		if err == nil && len(body.Data) == 1 && len(body.Data[0].Spans) >= want {
			services = map[string]string{}
			for id, p := range body.Data[0].Processes {
				services[id] = p.ServiceName
			}
			return body.Data[0].Spans, services
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s did not reach %d spans in Jaeger in time (last error: %v, got %+v)", traceID, want, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestJaegerKeepsFixedIDsAndTrueTimes sends a small tree from two "workers" to a real
// Jaeger and reads it back: the orchestration span must arrive under its fixed id with its
// back-dated start, and its activity, recorded by another process long before, must hang
// under it.
func TestJaegerKeepsFixedIDsAndTrueTimes(t *testing.T) {
	testenv.RequireJaeger(t)
	workerA, workerB := jaegerTracer(t, "warren-test-worker-a"), jaegerTracer(t, "warren-test-worker-b")

	start := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	started := history.Event{Kind: history.ExecutionStarted, Timestamp: start, Name: "JaegerCheck", ExecutionID: "e",
		Trace: &history.TraceContext{SpanID: NewSpanID()}} // no caller: the orchestration is the root
	sc := OrchestrationSpanContext(started)
	_, end := StartActivity(context.Background(), workerA, history.ActivityRequest{
		InstanceID: "i", ExecutionID: "e", Name: "Step", Attempt: 1, Trace: TraceContextOf(sc)})
	end(nil)
	ExportOrchestration(workerB, "i", started, start.Add(90*time.Minute), history.StatusCompleted, nil)

	spans, services := jaegerTrace(t, sc.TraceID().String(), 2)
	if len(spans) != 2 {
		t.Fatalf("Jaeger has %d spans for the trace, want 2: %+v", len(spans), spans)
	}
	byName := map[string]jaegerSpan{}
	for _, s := range spans {
		byName[s.OperationName] = s
	}
	orch, act := byName["orchestration JaegerCheck"], byName["activity Step"]
	if orch.SpanID != started.Trace.SpanID || len(orch.References) != 0 {
		t.Errorf("orchestration span %s refs %+v, want the fixed id %s as a root", orch.SpanID, orch.References, started.Trace.SpanID)
	}
	if orch.StartTime != start.UnixMicro() || orch.Duration != (90*time.Minute).Microseconds() {
		t.Errorf("orchestration starts %d lasts %dus, want %d and %dus", orch.StartTime, orch.Duration,
			start.UnixMicro(), (90 * time.Minute).Microseconds())
	}
	if len(act.References) != 1 || act.References[0].RefType != "CHILD_OF" || act.References[0].SpanID != started.Trace.SpanID {
		t.Errorf("activity references %+v, want CHILD_OF %s", act.References, started.Trace.SpanID)
	}
	if services[orch.ProcessID] != "warren-test-worker-b" || services[act.ProcessID] != "warren-test-worker-a" {
		t.Errorf("services %v for processes %s/%s", services, orch.ProcessID, act.ProcessID)
	}
}
