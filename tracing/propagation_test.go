package tracing

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/history"
)

const (
	callerTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	callerTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpanID      = "00f067aa0ba902b7"
)

func TestTraceContextRoundTrip(t *testing.T) {
	ts, err := trace.ParseTraceState("vendor=abc,other=x")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0xaa, 1}, SpanID: trace.SpanID{0xbb, 2},
		TraceFlags: trace.FlagsSampled, TraceState: ts,
	})
	tc := TraceContextOf(sc)
	if tc == nil || tc.TraceParent != "00-aa010000000000000000000000000000-bb02000000000000-01" ||
		tc.TraceState != "vendor=abc,other=x" || tc.SpanID != "" {
		t.Fatalf("TraceContextOf = %+v", tc)
	}
	back := SpanContextOf(tc)
	if !back.Equal(sc.WithRemote(true)) {
		t.Fatalf("SpanContextOf(TraceContextOf(sc)) = %+v, want %+v", back, sc)
	}

	if TraceContextOf(trace.SpanContext{}) != nil {
		t.Error("TraceContextOf(invalid) is not nil")
	}
	for _, bad := range []*history.TraceContext{
		nil, {}, {TraceParent: "garbage"}, {TraceParent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
		{TraceParent: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}, // upper case is not W3C
	} {
		if SpanContextOf(bad).IsValid() {
			t.Errorf("SpanContextOf(%+v) is valid", bad)
		}
	}
}

func TestContextFromAndWith(t *testing.T) {
	ctx := ContextWith(context.Background(), &history.TraceContext{TraceParent: callerTraceParent, TraceState: "k=v"})
	sc := trace.SpanContextFromContext(ctx)
	if sc.TraceID().String() != callerTraceID || sc.SpanID().String() != callerSpanID || !sc.IsRemote() || !sc.IsSampled() {
		t.Fatalf("ContextWith gave %+v", sc)
	}
	tc := ContextFrom(ctx)
	if tc == nil || tc.TraceParent != callerTraceParent || tc.TraceState != "k=v" {
		t.Fatalf("ContextFrom = %+v", tc)
	}
	if ContextFrom(context.Background()) != nil {
		t.Error("ContextFrom(no span) is not nil")
	}
	base := context.Background()
	if ContextWith(base, nil) != base || ContextWith(base, &history.TraceContext{TraceParent: "x"}) != base {
		t.Error("ContextWith(invalid) did not return ctx unchanged")
	}
}

func TestMessageTraceRoundTrip(t *testing.T) {
	ctx := ContextWithMessage(context.Background(), callerTraceParent, "k=v")
	tp, ts := MessageTrace(ctx)
	if tp != callerTraceParent || ts != "k=v" {
		t.Fatalf("MessageTrace = %q, %q", tp, ts)
	}
	if tp, ts := MessageTrace(context.Background()); tp != "" || ts != "" {
		t.Fatalf("MessageTrace(no span) = %q, %q", tp, ts)
	}
	if MessageSpanContext("", "k=v").IsValid() || MessageSpanContext("00-zz", "").IsValid() {
		t.Error("MessageSpanContext accepted a missing or malformed traceparent")
	}
	base := context.Background()
	if ContextWithMessage(base, "nonsense", "") != base {
		t.Error("ContextWithMessage(malformed) did not return ctx unchanged")
	}
}

func TestHTTPRoundTrip(t *testing.T) {
	h := http.Header{}
	InjectHTTP(ContextWithMessage(context.Background(), callerTraceParent, ""), h)
	if h.Get("traceparent") != callerTraceParent {
		t.Fatalf("InjectHTTP set traceparent %q", h.Get("traceparent"))
	}
	sc := trace.SpanContextFromContext(ExtractHTTP(context.Background(), h))
	if sc.TraceID().String() != callerTraceID || sc.SpanID().String() != callerSpanID {
		t.Fatalf("ExtractHTTP gave %+v", sc)
	}
	empty := http.Header{}
	InjectHTTP(context.Background(), empty)
	if len(empty) != 0 {
		t.Fatalf("InjectHTTP without a span set %v", empty)
	}
}

func TestOrchestrationSpanContext(t *testing.T) {
	started := history.Event{
		Kind: history.ExecutionStarted, ExecutionID: "e1",
		Trace: &history.TraceContext{TraceParent: callerTraceParent, TraceState: "k=v", SpanID: "1111222233334444"},
	}
	sc := OrchestrationSpanContext(started)
	if sc.TraceID().String() != callerTraceID || sc.SpanID().String() != "1111222233334444" ||
		!sc.IsSampled() || !sc.IsRemote() || sc.TraceState().Get("k") != "v" {
		t.Fatalf("OrchestrationSpanContext = %+v", sc)
	}

	// Not sampled by the caller: the orchestration is not either.
	started.Trace.TraceParent = "00-" + callerTraceID + "-" + callerSpanID + "-00"
	if OrchestrationSpanContext(started).IsSampled() {
		t.Error("unsampled caller gave a sampled orchestration context")
	}

	// No span id: nothing to parent to.
	for _, tc := range []*history.TraceContext{nil, {TraceParent: callerTraceParent}, {TraceParent: callerTraceParent, SpanID: "xyz"}} {
		if OrchestrationSpanContext(history.Event{ExecutionID: "e1", Trace: tc}).IsValid() {
			t.Errorf("OrchestrationSpanContext(%+v) is valid", tc)
		}
	}
}

func TestOrchestrationSpanContextWithoutCaller(t *testing.T) {
	root := func(exec, sid string) trace.SpanContext {
		return OrchestrationSpanContext(history.Event{ExecutionID: exec, Trace: &history.TraceContext{SpanID: sid}})
	}
	a := root("e1", "1111222233334444")
	if !a.IsValid() || !a.IsSampled() || a.SpanID().String() != "1111222233334444" {
		t.Fatalf("root orchestration context = %+v", a)
	}
	if b := root("e1", "1111222233334444"); b.TraceID() != a.TraceID() {
		t.Errorf("trace id not stable: %s then %s", a.TraceID(), b.TraceID())
	}
	if root("e2", "1111222233334444").TraceID() == a.TraceID() || root("e1", "5555222233334444").TraceID() == a.TraceID() {
		t.Error("different executions or span ids share a derived trace id")
	}
}

func TestNewOrchestrationTrace(t *testing.T) {
	tc := NewOrchestrationTrace(ContextWithMessage(context.Background(), callerTraceParent, ""))
	if tc.TraceParent != callerTraceParent || len(tc.SpanID) != 16 || tc.SpanID == callerSpanID {
		t.Fatalf("NewOrchestrationTrace = %+v", tc)
	}
	bare := NewOrchestrationTrace(context.Background())
	if bare.TraceParent != "" || len(bare.SpanID) != 16 {
		t.Fatalf("NewOrchestrationTrace without caller = %+v", bare)
	}
}
