package worker

import (
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// A document that missed its execution's end (the write after the last episode failed) is
// rebuilt from history; one that shows the end, or an execution still running, is left alone.
func TestDocRepairFromHistory(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ended := func(last history.Event) *instanceState {
		return newState(history.Instance{InstanceID: "i", ExecutionID: "e", Status: history.StatusRunning},
			[]history.Episode{{Number: 1, Events: []history.Event{
				{Kind: history.ExecutionStarted, Name: "O", ExecutionID: "e", Timestamp: t0},
				last,
			}}})
	}
	cases := []struct {
		name       string
		st         *instanceState
		wantStatus history.Status
		wantOutput string
		wantFail   string
	}{
		{"completed", ended(history.Event{Kind: history.ExecutionCompleted, Result: []byte(`42`), Timestamp: t0.Add(time.Second)}), history.StatusCompleted, "42", ""},
		{"failed", ended(history.Event{Kind: history.ExecutionFailed, Failure: &history.Failure{Type: "E", Message: "boom"}}), history.StatusFailed, "", "boom"},
		{"terminated", ended(history.Event{Kind: history.ExecutionTerminated, Reason: "bad batch"}), history.StatusTerminated, "", "bad batch"},
		{"still running", ended(history.Event{Kind: history.TaskScheduled, TaskID: 1, Name: "A"}), "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := c.st.docRepair()
			if c.wantStatus == "" {
				if doc != nil {
					t.Fatalf("repair %+v for a running execution", doc)
				}
				return
			}
			if doc == nil || doc.Status != c.wantStatus || string(doc.Output) != c.wantOutput ||
				(c.wantFail != "" && (doc.Failure == nil || doc.Failure.Message != c.wantFail)) {
				t.Fatalf("repair = %+v", doc)
			}
			c.st.inst = *doc
			if again := c.st.docRepair(); again != nil {
				t.Fatalf("a document that shows the end is repaired again: %+v", again)
			}
		})
	}
}
