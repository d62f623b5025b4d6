package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/history"
)

// act submits an action's form from the instance page, then confirms it when confirm is
// set, and returns the last page.
func (r *rig) act(id, action string, fields url.Values, confirm bool) page {
	r.t.Helper()
	csrf := r.get("/ui/instances/" + url.PathEscape(id)).csrf(r.t)
	form := url.Values{"csrf": {csrf}}
	for k, v := range fields {
		form[k] = v
	}
	p := r.post("/ui/instances/"+url.PathEscape(id)+"/"+action, form)
	if p.status != http.StatusOK {
		r.t.Fatalf("%s: the confirmation answered HTTP %d:\n%s", action, p.status, p.body)
	}
	p.mustContain(r.t, `id="question"`, `name="confirmed" value="yes"`)
	if !confirm {
		return p
	}
	form.Set("confirmed", "yes")
	return r.post("/ui/instances/"+url.PathEscape(id)+"/"+action, form)
}

func TestRaiseAsksThenSendsTheEvent(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	r.seed("dev-1", "DeviceProvisioningOrchestration", history.StatusRunning, "")

	p := r.act("dev-1", "raise", url.Values{"event": {"DownloadCompletedAck"}, "data": {"true"}}, false)
	p.mustContain(t, "Do you want to raise this event on dev-1?", "DownloadCompletedAck")
	if n := len(r.published()); n != 0 {
		t.Fatalf("%d messages sent before the confirmation", n)
	}
	p = r.act("dev-1", "raise", url.Values{"event": {"DownloadCompletedAck"}, "data": {"true"}}, true)
	if p.status != http.StatusOK || p.url != "/ui/instances/dev-1" {
		t.Fatalf("after the raise: HTTP %d at %s", p.status, p.url)
	}
	p.mustContain(t, `id="action-done"`, "accepted the raise")
	msgs := r.published()
	if len(msgs) != 1 || msgs[0].InstanceID != "dev-1" {
		t.Fatalf("sent %+v, want one message to dev-1", msgs)
	}
	if ev := sentEvent(t, msgs[0].Body); ev.Kind != history.EventRaised || ev.Name != "DownloadCompletedAck" || string(ev.Input) != "true" {
		t.Errorf("sent %+v", ev)
	}
}

func TestBadActionsShowTheErrorInPlaceAndChangeNothing(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	r.seed("run-1", "DeviceProvisioningOrchestration", history.StatusRunning, "")
	r.seed("done-1", "DeviceProvisioningOrchestration", history.StatusCompleted, "")
	for _, c := range []struct {
		name, id, action string
		fields           url.Values
		status           int
		want             string
	}{
		{"data not JSON", "run-1", "raise", url.Values{"event": {"DownloadCompletedAck"}, "data": {"{yes"}}, 400, "not valid JSON"},
		{"no event name", "run-1", "raise", url.Values{"data": {"true"}}, 400, "name the event to raise"},
		{"event on an ended instance", "done-1", "raise", url.Values{"event": {"Ack"}}, 409, `instance &#34;done-1&#34; is Completed: it takes no more events`},
		{"purge a running instance", "run-1", "purge", nil, 409, `instance &#34;run-1&#34; has not ended`},
		{"resume a completed instance", "done-1", "resume", nil, 409, `done-1`},
		{"restart a running instance", "run-1", "restart", nil, 409, `only Completed, Failed or Terminated instances can be restarted`},
		{"rewind a completed instance", "done-1", "rewind", nil, 409, `only a Failed instance can be rewound`},
	} {
		p := r.act(c.id, c.action, c.fields, true)
		if p.status != c.status {
			t.Errorf("%s: HTTP %d, want %d", c.name, p.status, c.status)
		}
		p.mustContain(t, `id="action-error" data-action="`+c.action+`"`, c.want)
		if c.action == "raise" && c.fields.Get("data") != "" {
			p.mustContain(t, `>`+htmlEscape(c.fields.Get("data"))+`</textarea>`) // what was typed stays
		}
	}
	if n := len(r.published()); n != 0 {
		t.Errorf("%d messages sent by refused actions", n)
	}
	if _, err := r.store.GetInstance(context.Background(), "run-1"); err != nil {
		t.Errorf("the refused purge removed the instance: %v", err)
	}
}

func htmlEscape(s string) string {
	b, _ := json.Marshal(s) // no HTML special characters in the test's data but '{'
	return string(b[1 : len(b)-1])
}

func TestTerminateWithChildrenAndPurge(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	r.seed("batch-2", "ProvisionNewDevices", history.StatusRunning, "")
	p := r.act("batch-2", "terminate", url.Values{"reason": {"operator"}, "recursive": {"1"}}, false)
	p.mustContain(t, "terminated too", "operator")
	p = r.act("batch-2", "terminate", url.Values{"reason": {"operator"}, "recursive": {"1"}}, true)
	if p.status != http.StatusOK {
		t.Fatalf("terminate: HTTP %d\n%s", p.status, p.body)
	}
	msgs := r.published()
	if len(msgs) != 1 {
		t.Fatalf("sent %d messages, want 1", len(msgs))
	}
	if ev := sentEvent(t, msgs[0].Body); ev.Kind != history.ExecutionTerminated || !ev.Recursive || ev.Reason != "operator" {
		t.Errorf("terminate sent %+v, want recursive with the reason", ev)
	}

	r.seed("done-2", "HelloSequence", history.StatusCompleted, "")
	p = r.act("done-2", "purge", nil, true)
	if p.status != http.StatusOK || p.url != "/ui/instances" {
		t.Fatalf("purge: HTTP %d at %s", p.status, p.url)
	}
	p.mustContain(t, `<p class="notice" id="purged">Purged done-2 and its history.</p>`)
	if _, err := r.store.GetInstance(context.Background(), "done-2"); err == nil {
		t.Error("the purged instance is still there")
	}
}

// sentEvent is the event of a control message the dispatcher sent.
func sentEvent(t *testing.T, body []byte) history.Event {
	t.Helper()
	var cm history.ControlMessage
	if err := json.Unmarshal(body, &cm); err != nil {
		t.Fatalf("control message %s: %v", body, err)
	}
	return cm.Event
}

func TestRestartAnEndedInstance(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	r.seed("done-3", "HelloSequence", history.StatusCompleted, "")
	if err := r.store.Heartbeat(context.Background(), history.WorkerInfo{WorkerID: "w", Orchestrators: []string{"HelloSequence"}}); err != nil {
		t.Fatal(err)
	}
	p := r.act("done-3", "restart", nil, true)
	if p.status != http.StatusOK || p.url != "/ui/instances/done-3" {
		t.Fatalf("restart: HTTP %d at %s\n%s", p.status, p.url, p.body)
	}
	msgs := r.published()
	if len(msgs) != 1 {
		t.Fatalf("sent %d messages, want 1", len(msgs))
	}
	if ev := sentEvent(t, msgs[0].Body); ev.Kind != history.ExecutionStarted || ev.Name != "HelloSequence" || string(ev.Input) != `{"devices":2}` {
		t.Errorf("restart sent %+v, want the orchestrator started again with its input", ev)
	}
}

func TestRewindAFailedInstance(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	r.seed("failed-3", "HelloSequence", history.StatusFailed, "")
	if err := r.store.Heartbeat(context.Background(), history.WorkerInfo{WorkerID: "w", Orchestrators: []string{"HelloSequence"}}); err != nil {
		t.Fatal(err)
	}
	p := r.act("failed-3", "rewind", nil, true)
	if p.status != http.StatusOK || p.url != "/ui/instances/failed-3" {
		t.Fatalf("rewind: HTTP %d at %s\n%s", p.status, p.url, p.body)
	}
	msgs := r.published()
	if len(msgs) != 1 {
		t.Fatalf("sent %d messages, want 1", len(msgs))
	}
	if ev := sentEvent(t, msgs[0].Body); ev.Kind != history.ExecutionRewound || ev.ExecutionID == "" || ev.ExecutionID == "e1-failed-3" {
		t.Errorf("rewind sent %+v, want the rewind of the failed execution into a new one", ev)
	}
}
