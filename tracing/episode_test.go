package tracing

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/codes"

	"github.com/warrenhq/warren/history"
)

func TestExportEpisode(t *testing.T) {
	started := history.Event{
		Kind: history.ExecutionStarted, Timestamp: at(0), Name: "Job", ExecutionID: "e1",
		Trace: &history.TraceContext{SpanID: NewSpanID()},
	}
	waits := []Wait{
		{Kind: WaitTimer, TaskID: 1, Start: at(1), End: at(5)},
		{Kind: WaitEvent, Name: "Approval", TaskID: 2, Start: at(2), End: at(5)},
	}
	failure := &history.Failure{Type: "Error", Message: "no approval"}
	cases := []struct {
		status history.Status
		want   []string // span names, in the order they end
	}{
		{history.StatusRunning, []string{"timer", "event Approval"}},
		{history.StatusSuspended, []string{"timer", "event Approval"}},
		{history.StatusCompleted, []string{"timer", "event Approval", "orchestration Job"}},
		{history.StatusFailed, []string{"timer", "event Approval", "orchestration Job"}},
		{history.StatusTerminated, []string{"timer", "event Approval", "orchestration Job"}},
		{history.StatusContinuedAsNew, []string{"timer", "event Approval", "orchestration Job"}},
	}
	for _, c := range cases {
		t.Run(string(c.status), func(t *testing.T) {
			tracer, rec := recordingTracer(t)
			var f *history.Failure
			if c.status == history.StatusFailed {
				f = failure
			}
			ExportEpisode(tracer, "job-1", started, waits, c.status, f, at(5))
			if got := spanNames(rec); !slices.Equal(got, c.want) {
				t.Fatalf("spans %v, want %v", got, c.want)
			}
			orch := OrchestrationSpanContext(started)
			for _, s := range rec.Ended() {
				if s.SpanContext().TraceID() != orch.TraceID() {
					t.Errorf("%q is in trace %s, want the orchestration's %s", s.Name(), s.SpanContext().TraceID(), orch.TraceID())
				}
				if s.Name() == "orchestration Job" {
					if s.SpanContext().SpanID() != orch.SpanID() || !s.StartTime().Equal(at(0)) || !s.EndTime().Equal(at(5)) {
						t.Errorf("orchestration span %s [%v, %v], want %s [%v, %v]", s.SpanContext().SpanID(),
							s.StartTime(), s.EndTime(), orch.SpanID(), at(0), at(5))
					}
					if got := attr(s, string(AttrStatus)); got != string(c.status) {
						t.Errorf("warren.status %q, want %q", got, c.status)
					}
					if failed := s.Status().Code == codes.Error; failed != (c.status == history.StatusFailed) {
						t.Errorf("status %v for a %s execution", s.Status(), c.status)
					}
					continue
				}
				if s.Parent().SpanID() != orch.SpanID() {
					t.Errorf("%q has parent %s, want the orchestration span %s", s.Name(), s.Parent().SpanID(), orch.SpanID())
				}
				if attr(s, string(AttrExecutionID)) != "e1" || attr(s, string(AttrInstanceID)) != "job-1" {
					t.Errorf("%q attributes %v", s.Name(), s.Attributes())
				}
			}
		})
	}
}

func TestExportEpisodeWithoutTraceOrTracerRecordsNothing(t *testing.T) {
	tracer, rec := recordingTracer(t)
	untraced := history.Event{Kind: history.ExecutionStarted, Timestamp: at(0), Name: "Job", ExecutionID: "e1"}
	ExportEpisode(tracer, "job-1", untraced, []Wait{{Kind: WaitTimer, Start: at(0), End: at(1)}},
		history.StatusCompleted, nil, at(1))
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans for an execution started without a span id: %v", n, spanNames(rec))
	}
	traced := untraced
	traced.Trace = &history.TraceContext{SpanID: NewSpanID()}
	ExportEpisode(nil, "job-1", traced, nil, history.StatusCompleted, nil, at(1)) // must not panic
}

func TestStartActivityAtUsesTheCallersClock(t *testing.T) {
	tracer, rec := recordingTracer(t)
	started := history.Event{Kind: history.ExecutionStarted, Timestamp: at(0), Name: "Job", ExecutionID: "e1",
		Trace: &history.TraceContext{SpanID: NewSpanID()}}
	orch := OrchestrationSpanContext(started)
	req := history.ActivityRequest{InstanceID: "job-1", ExecutionID: "e1", OrchestrationName: "Job",
		TaskID: 3, Name: "Send", Attempt: 2, Trace: TraceContextOf(orch)}
	_, end := StartActivityAt(context.Background(), tracer, req, at(10))
	end(&history.Failure{Type: "Error", Message: "refused"}, at(12))
	s := spanNamed(t, rec, "activity Send")
	if !s.StartTime().Equal(at(10)) || !s.EndTime().Equal(at(12)) {
		t.Errorf("activity span [%v, %v], want [%v, %v]", s.StartTime(), s.EndTime(), at(10), at(12))
	}
	if s.Parent().SpanID() != orch.SpanID() || s.SpanContext().TraceID() != orch.TraceID() {
		t.Errorf("activity span parent %s in trace %s, want %s in %s", s.Parent().SpanID(), s.SpanContext().TraceID(), orch.SpanID(), orch.TraceID())
	}
	if attr(s, string(AttrAttempt)) != "2" || attr(s, string(AttrTaskID)) != "3" {
		t.Errorf("attributes %v", s.Attributes())
	}
	if s.Status().Code != codes.Error || s.Status().Description != "refused" {
		t.Errorf("status %v, want Error \"refused\"", s.Status())
	}
}
