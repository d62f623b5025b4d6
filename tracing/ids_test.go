package tracing

import (
	"context"
	"regexp"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestIDGeneratorGivesTheChosenSpanIDOnce(t *testing.T) {
	tracer, rec := recordingTracer(t)
	chosen := mustSpanID(t, "00f067aa0ba902b7")

	ctx := WithSpanID(context.Background(), chosen)
	sctx, span := tracer.Start(ctx, "chosen")
	_, child := tracer.Start(sctx, "child")    // inherits the value from ctx: must not reuse it
	_, sibling := tracer.Start(ctx, "sibling") // the same ctx again: the id was taken
	child.End()
	sibling.End()
	span.End()

	if got := spanNamed(t, rec, "chosen").SpanContext().SpanID(); got != chosen {
		t.Errorf("chosen span id = %s, want %s", got, chosen)
	}
	for _, name := range []string{"child", "sibling"} {
		s := spanNamed(t, rec, name)
		if s.SpanContext().SpanID() == chosen || !s.SpanContext().SpanID().IsValid() {
			t.Errorf("%s span id = %s, want a fresh random id", name, s.SpanContext().SpanID())
		}
	}
	if p := spanNamed(t, rec, "child").Parent().SpanID(); p != chosen {
		t.Errorf("child's parent = %s, want %s", p, chosen)
	}
}

func TestIDGeneratorChosenSpanIDUnderARemoteParent(t *testing.T) {
	tracer, rec := recordingTracer(t)
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6},
		TraceFlags: trace.FlagsSampled, Remote: true,
	})
	chosen := mustSpanID(t, "0123456789abcdef")
	ctx := WithSpanID(trace.ContextWithRemoteSpanContext(context.Background(), parent), chosen)
	_, span := tracer.Start(ctx, "s")
	span.End()

	s := spanNamed(t, rec, "s")
	if s.SpanContext().SpanID() != chosen || s.SpanContext().TraceID() != parent.TraceID() ||
		s.Parent().SpanID() != parent.SpanID() {
		t.Errorf("span %s/%s parent %s, want %s/%s parent %s", s.SpanContext().TraceID(),
			s.SpanContext().SpanID(), s.Parent().SpanID(), parent.TraceID(), chosen, parent.SpanID())
	}
}

func TestIDGeneratorRandomWithoutChoice(t *testing.T) {
	var g IDGenerator
	seen := map[trace.SpanID]bool{}
	for range 1000 {
		tid, sid := g.NewIDs(context.Background())
		if !tid.IsValid() || !sid.IsValid() {
			t.Fatalf("invalid ids %s %s", tid, sid)
		}
		sid2 := g.NewSpanID(context.Background(), tid)
		if seen[sid] || seen[sid2] {
			t.Fatalf("span id repeated within 2000 draws")
		}
		seen[sid], seen[sid2] = true, true
	}
}

func TestNewSpanID(t *testing.T) {
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	a, b := NewSpanID(), NewSpanID()
	if !hex16.MatchString(a) || !hex16.MatchString(b) {
		t.Fatalf("NewSpanID = %q, %q; want 16 lower-case hex digits", a, b)
	}
	if a == b {
		t.Fatalf("two NewSpanID calls gave the same id %s", a)
	}
	if _, err := trace.SpanIDFromHex(a); err != nil {
		t.Fatalf("NewSpanID %q does not parse: %v", a, err)
	}
}
