package ui

import (
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

func TestTimelinePairsSchedulingWithOutcomes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	fail := &history.Failure{Type: "ActivityFailed", Message: "boom"}
	steps := timeline([]history.Event{
		{Kind: history.ExecutionStarted, Timestamp: ms(0), Name: "P"},
		{Kind: history.OrchestratorStarted, Timestamp: ms(0)},
		{Kind: history.TaskScheduled, Timestamp: ms(1), TaskID: 1, Name: "A", Attempt: 1},
		{Kind: history.TimerCreated, Timestamp: ms(1), TaskID: 2, FireAt: ms(1000)},
		{Kind: history.SubOrchestrationCreated, Timestamp: ms(2), TaskID: 3, Name: "C", InstanceID: "p:c"},
		{Kind: history.TaskFailed, Timestamp: ms(11), TaskID: 1, Failure: fail},
		{Kind: history.TaskScheduled, Timestamp: ms(12), TaskID: 4, Name: "A", Attempt: 2},
		{Kind: history.TimerFired, Timestamp: ms(1000), TaskID: 2},
		{Kind: history.TaskCompleted, Timestamp: ms(1012), TaskID: 4, Result: []byte(`1`)},
		{Kind: history.TaskCompleted, Timestamp: ms(1013), TaskID: 9}, // no scheduling seen
		{Kind: history.EventRaised, Timestamp: ms(1014), Name: "Ack", Input: []byte(`true`)},
		{Kind: history.PatchMarker, Timestamp: ms(1015), Name: "v2"},
		{Kind: "FromANewerSDK", Timestamp: ms(1015), Name: "x"},
		{Kind: history.ExecutionTerminated, Timestamp: ms(1016), Reason: "ops", Recursive: true},
	})
	want := []struct {
		kind, name, outcome string
		attempt             int
		dur                 time.Duration
		child               string
	}{
		{"Execution", "P", "Started", 0, 0, ""},
		{"Activity", "A", "Failed", 1, 10 * time.Millisecond, ""},
		{"Timer", "", "Fired", 0, 999 * time.Millisecond, ""},
		{"Sub-orchestration", "C", "Running", 0, 0, "p:c"},
		{"Activity", "A", "Completed", 2, 1000 * time.Millisecond, ""},
		{"TaskCompleted", "", "Completed", 0, 0, ""},
		{"Event raised", "Ack", "Received", 0, 0, ""},
		{"Patch", "v2", "Took the new branch", 0, 0, ""},
		{"FromANewerSDK", "x", "Recorded", 0, 0, ""},
		{"Execution", "", "Terminated with its children", 0, 0, ""},
	}
	if len(steps) != len(want) {
		t.Fatalf("%d steps, want %d: %+v", len(steps), len(want), steps)
	}
	for i, w := range want {
		s := steps[i]
		if s.Kind != w.kind || s.Name != w.name || s.Outcome != w.outcome || s.Attempt != w.attempt || s.Duration() != w.dur || s.Child != w.child {
			t.Errorf("step %d = %s %q %s attempt %d %s child %q, want %+v", i, s.Kind, s.Name, s.Outcome, s.Attempt, s.Duration(), s.Child, w)
		}
	}
	if steps[1].Failure != fail || string(steps[4].Result) != "1" || steps[3].Ended() {
		t.Errorf("outcomes not carried: %+v", steps)
	}
}

func TestCausesOutermostFirst(t *testing.T) {
	f := &history.Failure{Type: "a", Cause: &history.Failure{Type: "b", Cause: &history.Failure{Type: "c"}}}
	got := causes(f)
	if len(got) != 3 || got[0].Type != "a" || got[2].Type != "c" {
		t.Errorf("causes = %+v", got)
	}
	if causes(nil) != nil {
		t.Error("causes(nil) is not empty")
	}
}
