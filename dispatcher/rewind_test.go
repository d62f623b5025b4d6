package dispatcher

import (
	"net/http"
	"strings"
	"testing"

	"github.com/warrenhq/warren/history"
)

func TestRewindSendsTheRewindOfTheFailedExecution(t *testing.T) {
	r := newRig(t, Config{})
	seed(r.store, "failed", history.StatusFailed)
	seed(r.store, "done", history.StatusCompleted)
	seed(r.store, "live", history.StatusRunning)
	seed(r.store, "unqueued", history.StatusFailed)
	inst := r.store.instances["unqueued"]
	inst.Failure = &history.Failure{Type: failureStartNotQueued, Message: "the broker refused it"}
	r.store.instances["unqueued"] = inst

	a := r.do("POST", "/v1/instances/failed/rewind", `{"reason":"fixed the bug"}`)
	if a.code != http.StatusAccepted || a.status(t).Status != history.StatusFailed {
		t.Fatalf("%d %s", a.code, a.body)
	}
	sent := r.sentControl(t)
	if len(sent) != 1 {
		t.Fatalf("%d messages sent, want the one rewind", len(sent))
	}
	if cm, ev := sent[0], sent[0].Event; cm.InstanceID != "failed" || cm.ExecutionID != "e-failed" || ev.Kind != history.ExecutionRewound ||
		ev.ExecutionID == "" || ev.ExecutionID == "e-failed" || ev.Reason != "fixed the bug" {
		t.Fatalf("sent %+v, want the rewind of execution e-failed into a new one", cm)
	}
	if got := r.store.instances["failed"]; got.ExecutionID != "e-failed" {
		t.Fatalf("the dispatcher wrote the document (%+v); the worker that rewinds it does", got)
	}

	for path, want := range map[string]struct {
		code int
		text string
	}{
		"/v1/instances/live/rewind":     {http.StatusConflict, `instance "live" is Running; only a Failed instance can be rewound`},
		"/v1/instances/done/rewind":     {http.StatusConflict, `instance "done" is Completed; only a Failed instance can be rewound (restart runs`},
		"/v1/instances/unqueued/rewind": {http.StatusConflict, `instance "unqueued" never started`},
		"/v1/instances/ghost/rewind":    {http.StatusNotFound, `"ghost" not found`},
	} {
		a := r.do("POST", path, "")
		if a.code != want.code || !strings.Contains(a.errorBody(t).Error, want.text) {
			t.Errorf("POST %s: %d %s", path, a.code, a.body)
		}
	}
}
