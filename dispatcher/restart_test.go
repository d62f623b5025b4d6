package dispatcher

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/warrenhq/warren/history"
)

func TestRestartSendsANewExecutionsStart(t *testing.T) {
	r := newRig(t, Config{})
	seed(r.store, "done", history.StatusFailed)
	inst := r.store.instances["done"]
	inst.Input = json.RawMessage(`"Tokyo"`)
	r.store.instances["done"] = inst
	seed(r.store, "live", history.StatusRunning)

	a := r.do("POST", "/v1/instances/done/restart", "")
	if a.code != http.StatusAccepted || a.status(t).Status != history.StatusFailed {
		t.Fatalf("%d %s", a.code, a.body)
	}
	starts := r.sentControl(t)
	if len(starts) != 1 {
		t.Fatalf("%d messages sent, want the one start", len(starts))
	}
	cm := starts[0]
	if ev := cm.Event; cm.InstanceID != "done" || ev.Kind != history.ExecutionStarted || ev.Name != "Hello" ||
		string(ev.Input) != `"Tokyo"` || ev.ExecutionID == "" || ev.ExecutionID == "e-done" || cm.ExecutionID != ev.ExecutionID || cm.Recorded != 0 {
		t.Fatalf("sent %+v, want a start of a new execution of Hello with the old input", cm)
	}
	if got := r.store.instances["done"]; got.ExecutionID != "e-done" {
		t.Fatalf("the dispatcher wrote the document (%+v); the worker that begins the execution does", got)
	}

	for path, want := range map[string]struct {
		code int
		text string
	}{
		"/v1/instances/live/restart":  {http.StatusConflict, `instance "live" is Running; only Completed, Failed or Terminated instances can be restarted`},
		"/v1/instances/ghost/restart": {http.StatusNotFound, `"ghost" not found`},
	} {
		a := r.do("POST", path, "")
		if a.code != want.code || !strings.Contains(a.errorBody(t).Error, want.text) {
			t.Errorf("POST %s: %d %s", path, a.code, a.body)
		}
	}
}

// sentControl decodes every control message the dispatcher sent.
func (r *rig) sentControl(t *testing.T) []history.ControlMessage {
	t.Helper()
	var out []history.ControlMessage
	for _, msgs := range r.broker.sent {
		for _, m := range msgs {
			var cm history.ControlMessage
			if err := json.Unmarshal(m.Body, &cm); err != nil {
				t.Fatal(err)
			}
			out = append(out, cm)
		}
	}
	return out
}
