package dispatcher

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// lagging seeds a document that says Running at episode 1 while its history has gone on
// to end at episode 2 (status Completed), or not (status Running).
func lagging(s *memStore, id string, status history.Status) {
	seed(s, id, history.StatusRunning)
	inst := s.instances[id]
	inst.Executions, inst.LastEpisode = 3, 1
	s.instances[id] = inst
	eps := []history.Episode{{InstanceID: id, ExecutionID: inst.ExecutionID, Number: 1,
		Events: []history.Event{{Kind: history.ExecutionStarted}}}}
	last := history.Episode{InstanceID: id, ExecutionID: inst.ExecutionID, Number: 2,
		Events: []history.Event{{Kind: history.TaskScheduled}}}
	if status == history.StatusCompleted {
		last.Events = append(last.Events, history.Event{Kind: history.ExecutionCompleted, Result: json.RawMessage(`"out"`)})
	}
	s.episodes[id] = append(eps, last)
}

// A decision that depends on the status takes it from the history where the document has
// not ended: an instance whose history has ended is restarted, purged and refuses signals
// though its document still says Running; one whose history runs on is refused.
func TestDecisionsReadTheHistory(t *testing.T) {
	r := newRig(t, Config{})
	lagging(r.store, "ended-1", history.StatusCompleted)
	lagging(r.store, "ended-2", history.StatusCompleted)
	lagging(r.store, "ended-3", history.StatusCompleted)
	lagging(r.store, "runs", history.StatusRunning)

	if a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"ended-1"}`); a.code != http.StatusAccepted {
		t.Fatalf("start over an ended history: %d %s", a.code, a.body)
	}
	inst, _ := r.store.GetInstance(t.Context(), "ended-1")
	if inst.Status != history.StatusPending || inst.Executions != 4 || inst.ExecutionID == "e-ended-1" {
		t.Fatalf("restarted instance %+v", inst)
	}
	if eps, _ := r.store.LoadHistory(t.Context(), "ended-1", "e-ended-1"); len(eps) != 0 {
		t.Fatalf("the ended execution's history was kept: %+v", eps)
	}
	var cm history.ControlMessage
	if err := json.Unmarshal(r.broker.sent[r.d.controlQueue("ended-1")][0].Body, &cm); err != nil || cm.Recorded != 4 {
		t.Fatalf("start message %+v %v, want Recorded 4", cm, err)
	}

	if a := r.do("DELETE", "/v1/instances/ended-2", ""); a.code != http.StatusNoContent {
		t.Fatalf("purge of an ended history: %d %s", a.code, a.body)
	}
	if _, err := r.store.GetInstance(t.Context(), "ended-2"); err != history.ErrInstanceNotFound {
		t.Fatalf("after purge: %v", err)
	}

	a := r.do("POST", "/v1/instances/ended-3/events/Go", `true`)
	if a.code != http.StatusConflict || a.errorBody(t).Code != "conflict" {
		t.Fatalf("raise to an ended history: %d %s", a.code, a.body)
	}

	sent := r.broker.total()
	if a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"runs"}`); a.code != http.StatusConflict {
		t.Fatalf("start over a running history: %d %s", a.code, a.body)
	}
	if a := r.do("DELETE", "/v1/instances/runs", ""); a.code != http.StatusConflict {
		t.Fatalf("purge of a running history: %d %s", a.code, a.body)
	}
	if a := r.do("POST", "/v1/instances/runs/events/Go", `true`); a.code != http.StatusAccepted {
		t.Fatalf("raise to a running history: %d %s", a.code, a.body)
	}
	if got := r.broker.total(); got != sent+1 {
		t.Fatalf("%d messages sent, want the event only", got-sent)
	}
	// The status route answers from the document alone (one read; the lag is documented).
	if a := r.do("GET", "/v1/instances/ended-3", ""); a.status(t).Status != history.StatusRunning {
		t.Fatalf("status %s", a.body)
	}
}

// The start message of a new instance says Recorded 1; an adopted start (the same start
// asked again before any worker began it) keeps the document's execution, number and
// creation time (the worker takes the start's time for the document's, and the store
// refuses a read-model write of another creation time as of another incarnation).
func TestStartMessageSaysRecorded(t *testing.T) {
	r := newRig(t, Config{})
	seed(r.store, "adopt", history.StatusPending)
	inst := r.store.instances["adopt"]
	inst.Executions = 2
	inst.CreatedAt = inst.CreatedAt.Add(-time.Minute).Truncate(time.Millisecond)
	r.store.instances["adopt"] = inst
	for _, id := range []string{"new", "adopt"} {
		if a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"`+id+`"}`); a.code != http.StatusAccepted {
			t.Fatalf("start %s: %d %s", id, a.code, a.body)
		}
	}
	want := map[string]history.ControlMessage{"new": {Recorded: 1}, "adopt": {Recorded: 2, ExecutionID: "e-adopt"}}
	for id, w := range want {
		msgs := r.broker.sent[r.d.controlQueue(id)]
		found := false
		for _, m := range msgs {
			var cm history.ControlMessage
			if err := json.Unmarshal(m.Body, &cm); err != nil || cm.InstanceID != id {
				continue
			}
			found = true
			if cm.Recorded != w.Recorded || (w.ExecutionID != "" && cm.ExecutionID != w.ExecutionID) {
				t.Errorf("%s: message %+v, want Recorded %d", id, cm, w.Recorded)
			}
			if id == "adopt" && !cm.Event.Timestamp.Equal(inst.CreatedAt) {
				t.Errorf("adopted start: the start event's time is %s, want the document's creation time %s", cm.Event.Timestamp, inst.CreatedAt)
			}
		}
		if !found {
			t.Errorf("%s: no start message", id)
		}
	}
}

// commitFails is a store whose episode commits fail (the store answered nothing).
type commitFails struct{ *memStore }

func (s commitFails) CommitEpisodes(ctx context.Context, eps []*history.Episode) []error {
	errs := make([]error, len(eps))
	for i := range errs {
		errs[i] = errDown
	}
	return errs
}

// When the refusal of an unknown start cannot be committed, the document alone is marked
// Failed with StartNotQueued at episode 0 (a worker that runs the start outranks it), and
// the answer is 503 saying the outcome is unknown.
func TestUnknownStartWhoseRefusalCannotBeCommitted(t *testing.T) {
	r := newRig(t, Config{OpTimeout: 200 * time.Millisecond})
	r.d.store = commitFails{r.store}
	r.broker.fail = unconfirmed("m")
	a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"u1"}`)
	if a.code != http.StatusServiceUnavailable || !strings.Contains(a.errorBody(t).Error, "unknown") {
		t.Fatalf("%d %s", a.code, a.body)
	}
	inst, err := r.store.GetInstance(t.Context(), "u1")
	if err != nil || inst.Status != history.StatusFailed || inst.LastEpisode != 0 || inst.Failure.Type != "StartNotQueued" {
		t.Fatalf("stored %+v, %v", inst, err)
	}
	if eps, _ := r.store.LoadHistory(t.Context(), "u1", inst.ExecutionID); len(eps) != 0 {
		t.Fatalf("history %+v", eps)
	}
}
