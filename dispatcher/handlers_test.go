package dispatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/scrape"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/tracing"
)

type rig struct {
	t      *testing.T
	d      *Dispatcher
	store  *memStore
	broker *fakeBroker
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	store, broker := newMemStore("Hello", "ProvisionNewDevices"), newFakeBroker()
	if cfg.Partitions == 0 {
		cfg.Partitions = 4
	}
	cfg.Logger = discardLogger()
	d, err := New(cfg, store, broker)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, d: d, store: store, broker: broker}
}

type answer struct {
	code int
	body []byte
	hdr  http.Header
}

func (r *rig) do(method, path, body string, hdr ...string) answer {
	r.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	r.d.Handler().ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return answer{code: rec.Code, body: b, hdr: rec.Header()}
}

func (a answer) errorBody(t *testing.T) api.ErrorBody {
	t.Helper()
	var e api.ErrorBody
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error == "" || e.Code == "" {
		t.Fatalf("answer %d is not a JSON error body: %s (%v)", a.code, a.body, err)
	}
	return e
}

func (a answer) status(t *testing.T) api.Status {
	t.Helper()
	var s api.Status
	if err := json.Unmarshal(a.body, &s); err != nil {
		t.Fatalf("answer %d is not a status: %s (%v)", a.code, a.body, err)
	}
	return s
}

func TestStart(t *testing.T) {
	r := newRig(t, Config{Hub: "h1"})
	a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"batch-7","input":{"n":3}}`)
	if a.code != http.StatusAccepted {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	st := a.status(t)
	if st.InstanceID != "batch-7" || st.Name != "Hello" || st.Status != history.StatusPending || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(st.TraceID) {
		t.Fatalf("status = %+v", st)
	}
	if loc := a.hdr.Get("Location"); loc != "/v1/instances/batch-7" {
		t.Errorf("Location = %q", loc)
	}
	// The status object has exactly the documented fields.
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(a.body, &raw)
	want := []string{"instanceId", "name", "status", "output", "failure", "customStatus", "createdAt", "lastUpdatedAt", "parentInstanceId", "traceId"}
	if len(raw) != len(want) {
		t.Errorf("status has %d fields, want %d: %s", len(raw), len(want), a.body)
	}
	for _, k := range want {
		if _, ok := raw[k]; !ok {
			t.Errorf("status lacks %q: %s", k, a.body)
		}
	}

	inst, err := r.store.GetInstance(t.Context(), "batch-7")
	if err != nil || inst.Status != history.StatusPending || string(inst.Input) != `{"n":3}` || inst.ExecutionID == "" {
		t.Fatalf("stored instance %+v, %v", inst, err)
	}
	q := queues.ControlQueue("h1", queues.PartitionOf("batch-7", 4))
	msgs := r.broker.sent[q]
	if len(msgs) != 1 || r.broker.total() != 1 {
		t.Fatalf("want one message on %s, got %v", q, r.broker.sent)
	}
	m := msgs[0]
	if m.Kind != string(history.ExecutionStarted) || m.InstanceID != "batch-7" || m.ID == "" {
		t.Fatalf("message %+v", m)
	}
	var cm history.ControlMessage
	if err := json.Unmarshal(m.Body, &cm); err != nil {
		t.Fatal(err)
	}
	ev := cm.Event
	if cm.InstanceID != "batch-7" || ev.Kind != history.ExecutionStarted || ev.Name != "Hello" ||
		string(ev.Input) != `{"n":3}` || ev.ExecutionID != inst.ExecutionID || ev.Version != history.VersionOf(history.ExecutionStarted) {
		t.Fatalf("control message %+v", cm)
	}
	// Without a caller and a tracing SDK, the orchestration roots its own trace; the
	// instance names the trace the workers will use.
	osc := tracing.OrchestrationSpanContext(ev)
	if ev.Trace == nil || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(ev.Trace.SpanID) ||
		osc.TraceID().String() != inst.TraceID || osc.SpanID().String() != ev.Trace.SpanID {
		t.Fatalf("trace %+v, message traceparent %q, instance trace id %q", ev.Trace, m.TraceParent, inst.TraceID)
	}
}

func TestStartGeneratesIDAndContinuesCallersTrace(t *testing.T) {
	r := newRig(t, Config{})
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	a := r.do("POST", "/v1/instances", `{"name":"Hello"}`, "traceparent", "00-"+tid+"-00f067aa0ba902b7-01")
	if a.code != http.StatusAccepted {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	st := a.status(t)
	if len(st.InstanceID) != 36 || st.TraceID != tid {
		t.Fatalf("status %+v: want a uuid id and the caller's trace id", st)
	}
}

// Every bad input gets a 4xx with a JSON error and writes and publishes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	long := strings.Repeat("a", 257)
	big := `{"name":"Hello","input":"` + strings.Repeat("x", 2048) + `"}`
	cases := []struct {
		name, method, path, body string
		code                     int
		errCode, mention         string
	}{
		{"malformed JSON", "POST", "/v1/instances", `{"name":"Hello",`, 400, api.CodeBadJSON, "malformed JSON"},
		{"not an object", "POST", "/v1/instances", `[1,2]`, 400, api.CodeBadJSON, "malformed JSON"},
		{"unknown field", "POST", "/v1/instances", `{"name":"Hello","inptu":1}`, 400, api.CodeBadJSON, "inptu"},
		{"trailing data", "POST", "/v1/instances", `{"name":"Hello"} {}`, 400, api.CodeBadJSON, "more than one"},
		{"empty body", "POST", "/v1/instances", ``, 400, api.CodeBadJSON, "empty"},
		{"missing name", "POST", "/v1/instances", `{"input":1}`, 400, api.CodeInvalidArgument, "missing"},
		{"bad id characters", "POST", "/v1/instances", `{"name":"Hello","instanceId":"a b/c"}`, 400, api.CodeInvalidInstanceID, "A-Z, a-z, 0-9"},
		{"id too long", "POST", "/v1/instances", `{"name":"Hello","instanceId":"` + long + `"}`, 400, api.CodeInvalidInstanceID, "1 to 256"},
		{"payload over limit", "POST", "/v1/instances", big, 413, api.CodePayloadTooLarge, "1024 bytes"},
		{"unknown orchestrator", "POST", "/v1/instances", `{"name":"Nope"}`, 422, api.CodeUnknownOrchestrator, "registered: Hello, ProvisionNewDevices"},
		{"event for unknown instance", "POST", "/v1/instances/ghost/events/Ack", `true`, 404, api.CodeNotFound, "ghost"},
		{"event with bad data", "POST", "/v1/instances/live-1/events/Ack", `{nope`, 400, api.CodeBadJSON, "not valid JSON"},
		{"event data over limit", "POST", "/v1/instances/live-1/events/Ack", `"` + strings.Repeat("x", 2048) + `"`, 413, api.CodePayloadTooLarge, "limit"},
		{"event for bad id", "POST", "/v1/instances/bad%20id/events/Ack", `true`, 400, api.CodeInvalidInstanceID, "characters"},
		{"event for ended instance", "POST", "/v1/instances/done-1/events/Ack", `true`, 409, api.CodeConflict, "Completed"},
		{"terminate unknown", "POST", "/v1/instances/ghost/terminate", `{"reason":"x"}`, 404, api.CodeNotFound, "ghost"},
		{"terminate bad JSON", "POST", "/v1/instances/live-1/terminate", `{"reason":`, 400, api.CodeBadJSON, "malformed"},
		{"terminate ended", "POST", "/v1/instances/done-1/terminate", ``, 409, api.CodeConflict, "nothing to terminate"},
		{"suspend unknown", "POST", "/v1/instances/ghost/suspend", ``, 404, api.CodeNotFound, "ghost"},
		{"resume unknown", "POST", "/v1/instances/ghost/resume", ``, 404, api.CodeNotFound, "ghost"},
		{"purge unknown", "DELETE", "/v1/instances/ghost", ``, 404, api.CodeNotFound, "ghost"},
		{"purge live", "DELETE", "/v1/instances/live-1", ``, 409, api.CodeConflict, "terminate it first"},
		{"start over a live id", "POST", "/v1/instances", `{"name":"Hello","instanceId":"live-1"}`, 409, api.CodeConflict, "Running"},
		{"list bad status", "GET", "/v1/instances?status=Sleeping", ``, 400, api.CodeInvalidArgument, "Pending, Running"},
		{"list bad page size", "GET", "/v1/instances?pageSize=0", ``, 400, api.CodeInvalidArgument, "pageSize"},
		{"list bad time", "GET", "/v1/instances?createdFrom=yesterday", ``, 400, api.CodeInvalidArgument, "RFC 3339"},
		{"status bad id", "GET", "/v1/instances/" + long, ``, 400, api.CodeInvalidInstanceID, "256"},
		{"status unknown", "GET", "/v1/instances/ghost", ``, 404, api.CodeNotFound, "ghost"},
		{"wait bad timeout", "GET", "/v1/instances/live-1/wait?timeout=soon", ``, 400, api.CodeInvalidArgument, "30s"},
		{"no such route", "GET", "/v2/things", ``, 404, api.CodeNotFound, "no route"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, Config{MaxBodyBytes: 1024})
			seed(r.store, "live-1", history.StatusRunning)
			seed(r.store, "done-1", history.StatusCompleted)
			n0, w0 := r.store.count()
			a := r.do(c.method, c.path, c.body)
			if a.code != c.code {
				t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, a.code, a.body, c.code)
			}
			e := a.errorBody(t)
			if e.Code != c.errCode || !strings.Contains(e.Error, c.mention) {
				t.Fatalf("error %+v, want code %s mentioning %q", e, c.errCode, c.mention)
			}
			if ct := a.hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if n, w := r.store.count(); n != n0 || w != w0 {
				t.Fatalf("store changed: %d instances, %d writes (was %d, %d)", n, w, n0, w0)
			}
			if n := r.broker.total(); n != 0 {
				t.Fatalf("%d messages published: %v", n, r.broker.sent)
			}
			if c.errCode == api.CodeUnknownOrchestrator && strings.Join(e.Known, ",") != "Hello,ProvisionNewDevices" {
				t.Fatalf("known = %v", e.Known)
			}
		})
	}
}

func seed(s *memStore, id string, st history.Status) {
	now := time.Now().UTC()
	s.instances[id] = history.Instance{InstanceID: id, Name: "Hello", ExecutionID: "e-" + id, Status: st, CreatedAt: now, LastUpdatedAt: now}
}

func TestStartWithoutLiveWorkers(t *testing.T) {
	r := newRig(t, Config{})
	r.store.workers = nil
	a := r.do("POST", "/v1/instances", `{"name":"Hello"}`)
	if a.code != 422 || !strings.Contains(a.errorBody(t).Error, "no worker is live") {
		t.Fatalf("%d %s", a.code, a.body)
	}
}

func TestStartReplacesEndedInstance(t *testing.T) {
	r := newRig(t, Config{})
	seed(r.store, "again", history.StatusFailed)
	a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"again"}`)
	if a.code != http.StatusAccepted {
		t.Fatalf("%d %s", a.code, a.body)
	}
	inst, _ := r.store.GetInstance(t.Context(), "again")
	if inst.Status != history.StatusPending || inst.ExecutionID == "e-again" || r.broker.total() != 1 {
		t.Fatalf("instance %+v, %d messages", inst, r.broker.total())
	}
}

// A start whose message the broker definitely refused leaves nothing behind; one whose
// outcome is unknown is sent again (the same message) and, if still unknown, is refused
// in the history (episode 1: started, failed with StartNotQueued, the message consumed)
// and its document Failed, never purged, unless a worker has committed episode 1 first.
func TestStartWhenPublishFails(t *testing.T) {
	const (
		gone    = "gone"    // nothing left: 503
		unknown = "unknown" // Failed, StartNotQueued, kept: 503 saying the outcome is unknown
		started = "started" // 202
	)
	// workerRuns is a publish hook: a worker takes the start and commits its first episode.
	workerRuns := func(r *rig) func(int) {
		return func(int) {
			inst, err := r.store.GetInstance(t.Context(), "s1")
			if err != nil {
				return
			}
			if errs := r.store.CommitEpisodes(t.Context(), []*history.Episode{{InstanceID: "s1", ExecutionID: inst.ExecutionID,
				Number: 1, Events: []history.Event{{Kind: history.ExecutionStarted}}}}); errs[0] != nil {
				return // committed at an earlier attempt
			}
			inst.Status, inst.LastEpisode = history.StatusRunning, 1
			if err := r.store.UpdateInstance(t.Context(), inst); err != nil {
				t.Errorf("the worker's update: %v", err)
			}
		}
	}
	cases := []struct {
		name     string
		script   []error
		fail     error
		hook     func(*rig) func(int)
		want     string
		attempts int // 0: more than one
		status   history.Status
	}{
		{name: "returned unroutable", script: []error{unroutable("m")}, want: gone, attempts: 1},
		{name: "confirmed when sent again", script: []error{unconfirmed("m"), nil}, want: started, attempts: 2, status: history.StatusPending},
		{name: "never confirmed", fail: unconfirmed("m"), want: unknown, status: history.StatusFailed},
		{name: "an error that is no PublishError", fail: errDown, want: unknown, status: history.StatusFailed},
		{name: "refused after an unconfirmed copy", script: []error{unconfirmed("m"), unroutable("m")}, want: unknown, attempts: 2, status: history.StatusFailed},
		{name: "a worker ran it meanwhile", fail: unconfirmed("m"), hook: workerRuns, want: started, status: history.StatusRunning},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, Config{OpTimeout: 400 * time.Millisecond})
			r.broker.script, r.broker.fail = c.script, c.fail
			if c.hook != nil {
				r.broker.onPublish = c.hook(r)
			}
			a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"s1"}`)
			inst, err := r.store.GetInstance(t.Context(), "s1")
			switch c.want {
			case gone:
				if a.code != http.StatusServiceUnavailable || a.errorBody(t).Code != api.CodeUnavailable {
					t.Fatalf("%d %s", a.code, a.body)
				}
				if err != history.ErrInstanceNotFound {
					t.Fatalf("instance left behind after a refused start: %+v, %v", inst, err)
				}
			case unknown:
				e := a.errorBody(t)
				if a.code != http.StatusServiceUnavailable || e.Code != api.CodeUnavailable ||
					!strings.Contains(e.Error, "unknown") || !strings.Contains(e.Error, "status (GET /v1/instances/s1)") {
					t.Fatalf("%d %s", a.code, a.body)
				}
			case started:
				if a.code != http.StatusAccepted {
					t.Fatalf("%d %s", a.code, a.body)
				}
			}
			if c.want != gone {
				if err != nil || inst.Status != c.status || inst.Executions != 1 {
					t.Fatalf("stored %+v, %v; want %s", inst, err, c.status)
				}
				if c.status == history.StatusFailed && (inst.LastEpisode != 1 || inst.Failure == nil ||
					inst.Failure.Type != "StartNotQueued" || !strings.Contains(inst.Failure.Message, "could not confirm")) {
					t.Fatalf("stored %+v, failure %+v", inst, inst.Failure)
				}
				eps, _ := r.store.LoadHistory(t.Context(), "s1", inst.ExecutionID)
				if c.status == history.StatusFailed && (len(eps) != 1 || len(eps[0].Events) != 2 ||
					eps[0].Events[1].Kind != history.ExecutionFailed || eps[0].Events[1].Failure.Type != "StartNotQueued" ||
					len(eps[0].Consumed) != 1 || eps[0].Consumed[0] != r.broker.attempts[0].ID) {
					t.Fatalf("history of the refused start: %+v", eps)
				}
			}
			n := len(r.broker.attempts)
			if (c.attempts == 0 && n < 2) || (c.attempts > 0 && n != c.attempts) {
				t.Fatalf("%d attempts, want %d (0: several)", n, c.attempts)
			}
			for _, m := range r.broker.attempts {
				if m.ID != r.broker.attempts[0].ID || string(m.Body) != string(r.broker.attempts[0].Body) {
					t.Fatalf("the attempts sent different messages: %+v", r.broker.attempts)
				}
			}
		})
	}
}

func TestStoreDown(t *testing.T) {
	r := newRig(t, Config{})
	r.store.failWith = errDown
	a := r.do("POST", "/v1/instances", `{"name":"Hello"}`)
	if a.code != http.StatusServiceUnavailable || r.broker.total() != 0 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	if a := r.do("GET", "/readyz", ""); a.code != http.StatusServiceUnavailable || !strings.Contains(string(a.body), `"store":"not answering"`) ||
		strings.Contains(string(a.body), "refused") {
		t.Fatalf("readyz with the store down: %d %s", a.code, a.body)
	}
}

func TestSignals(t *testing.T) {
	cases := []struct {
		path, body string
		kind       history.Kind
		check      func(history.Event) bool
	}{
		{"/v1/instances/live-1/events/DownloadCompletedAck", `true`, history.EventRaised,
			func(e history.Event) bool { return e.Name == "DownloadCompletedAck" && string(e.Input) == "true" }},
		{"/v1/instances/live-1/events/Empty", ``, history.EventRaised,
			func(e history.Event) bool { return e.Name == "Empty" && e.Input == nil }},
		{"/v1/instances/live-1/terminate", `{"reason":"bad batch","recursive":true}`, history.ExecutionTerminated,
			func(e history.Event) bool { return e.Reason == "bad batch" && e.Recursive }},
		{"/v1/instances/live-1/terminate", ``, history.ExecutionTerminated,
			func(e history.Event) bool { return e.Reason == "" && !e.Recursive }},
		{"/v1/instances/live-1/suspend", `{"reason":"maintenance"}`, history.ExecutionSuspended,
			func(e history.Event) bool { return e.Reason == "maintenance" }},
		{"/v1/instances/live-1/resume", ``, history.ExecutionResumed,
			func(e history.Event) bool { return true }},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := newRig(t, Config{Hub: "sig"})
			seed(r.store, "live-1", history.StatusRunning)
			a := r.do("POST", c.path, c.body)
			if a.code != http.StatusAccepted {
				t.Fatalf("%d %s", a.code, a.body)
			}
			msgs := r.broker.sent[queues.ControlQueue("sig", queues.PartitionOf("live-1", 4))]
			if len(msgs) != 1 || msgs[0].Kind != string(c.kind) {
				t.Fatalf("published %v", r.broker.sent)
			}
			var cm history.ControlMessage
			if err := json.Unmarshal(msgs[0].Body, &cm); err != nil || cm.InstanceID != "live-1" || cm.Event.Kind != c.kind || cm.Event.Timestamp.IsZero() || !c.check(cm.Event) {
				t.Fatalf("control message %s (%v)", msgs[0].Body, err)
			}
		})
	}
}

func TestStatusListPurge(t *testing.T) {
	r := newRig(t, Config{})
	seed(r.store, "a", history.StatusRunning)
	seed(r.store, "b", history.StatusCompleted)
	r.store.episodes["b"] = []history.Episode{{InstanceID: "b", ExecutionID: "e-b", Number: 1,
		Events: []history.Event{{Kind: history.ExecutionStarted}, {Kind: history.ExecutionCompleted}}}}

	a := r.do("GET", "/v1/instances/b?history=true", "")
	var sh api.StatusWithHistory
	if err := json.Unmarshal(a.body, &sh); err != nil || a.code != 200 || sh.InstanceID != "b" || len(sh.History) != 2 {
		t.Fatalf("status with history: %d %s", a.code, a.body)
	}
	a = r.do("GET", "/v1/instances?status=Completed,Running&name=Hello", "")
	var lr api.ListResponse
	if err := json.Unmarshal(a.body, &lr); err != nil || len(lr.Instances) != 2 {
		t.Fatalf("list: %d %s", a.code, a.body)
	}
	a = r.do("GET", "/v1/instances?status=completed", "")
	if err := json.Unmarshal(a.body, &lr); err != nil || len(lr.Instances) != 1 || lr.Instances[0].InstanceID != "b" {
		t.Fatalf("list completed: %d %s", a.code, a.body)
	}
	if a := r.do("DELETE", "/v1/instances/b", ""); a.code != http.StatusNoContent {
		t.Fatalf("purge: %d %s", a.code, a.body)
	}
	if a := r.do("GET", "/v1/instances/b", ""); a.code != http.StatusNotFound {
		t.Fatalf("status after purge: %d %s", a.code, a.body)
	}
}

func TestWait(t *testing.T) {
	r := newRig(t, Config{})
	seed(r.store, "done", history.StatusCompleted)
	if a := r.do("GET", "/v1/instances/done/wait?timeout=5s", ""); a.code != 200 || a.status(t).Status != history.StatusCompleted {
		t.Fatalf("wait on an ended instance: %d %s", a.code, a.body)
	}

	seed(r.store, "slow", history.StatusRunning)
	start := time.Now()
	a := r.do("GET", "/v1/instances/slow/wait?timeout=200ms", "")
	if a.code != http.StatusRequestTimeout {
		t.Fatalf("wait timeout: %d %s", a.code, a.body)
	}
	if e := a.errorBody(t); e.Code != api.CodeTimeout || e.Status == nil || e.Status.Status != history.StatusRunning {
		t.Fatalf("timeout body %s", a.body)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("wait returned after %s, before its timeout", el)
	}

	seed(r.store, "soon", history.StatusRunning)
	go func() {
		time.Sleep(100 * time.Millisecond) // the instance ends while the request waits
		r.store.mu.Lock()
		inst := r.store.instances["soon"]
		inst.Status, inst.Output = history.StatusFailed, nil
		inst.Failure = &history.Failure{Type: "Boom", Message: "it broke"}
		r.store.instances["soon"] = inst
		r.store.mu.Unlock()
	}()
	a = r.do("GET", "/v1/instances/soon/wait?timeout=10s", "")
	if st := a.status(t); a.code != 200 || st.Status != history.StatusFailed || st.Failure == nil || st.Failure.Message != "it broke" {
		t.Fatalf("wait until failed: %d %s", a.code, a.body)
	}
}

func TestWorkers(t *testing.T) {
	r := newRig(t, Config{Partitions: 16})
	now := time.Now()
	r.store.workers = []history.WorkerInfo{
		{WorkerID: "w-b", Orchestrators: []string{"Hello"}, HeartbeatAt: now},
		{WorkerID: "w-a", HeartbeatAt: now},
		{WorkerID: "w-c", HeartbeatAt: now},
	}
	a := r.do("GET", "/v1/workers", "")
	var wr api.WorkersResponse
	if err := json.Unmarshal(a.body, &wr); err != nil || a.code != 200 || wr.Partitions != 16 || len(wr.Workers) != 3 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	seen := map[int]bool{}
	for _, w := range wr.Workers {
		for _, p := range w.Partitions {
			if seen[p] {
				t.Fatalf("partition %d listed twice: %s", p, a.body)
			}
			seen[p] = true
		}
	}
	if len(seen) != 16 || wr.Workers[0].WorkerID != "w-a" || wr.Workers[0].Orchestrators == nil {
		t.Fatalf("workers %s", a.body)
	}
}

func TestToken(t *testing.T) {
	r := newRig(t, Config{Token: "s3cret"})
	if a := r.do("GET", "/v1/workers", ""); a.code != http.StatusUnauthorized || a.hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d %s", a.code, a.body)
	}
	if a := r.do("GET", "/v1/workers", "", "Authorization", "Bearer wrong"); a.code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", a.code)
	}
	if a := r.do("POST", "/v1/instances", `{"name":"Hello"}`); a.code != http.StatusUnauthorized || r.broker.total() != 0 {
		t.Fatalf("start without token: %d", a.code)
	}
	if a := r.do("GET", "/v1/workers", "", "Authorization", "Bearer s3cret"); a.code != 200 {
		t.Fatalf("right token: %d %s", a.code, a.body)
	}
	if a := r.do("GET", "/metrics", ""); a.code != http.StatusUnauthorized {
		t.Fatalf("metrics without token: %d", a.code)
	}
	if a := r.do("GET", "/healthz", ""); a.code != 200 {
		t.Fatalf("healthz without token: %d", a.code)
	}
}

func TestMetrics(t *testing.T) {
	r := newRig(t, Config{})
	seed(r.store, "live-1", history.StatusRunning)
	r.do("POST", "/v1/instances", `{"name":"Hello"}`)
	r.do("POST", "/v1/instances", `{"name":"Hello"}`)
	r.do("POST", "/v1/instances", `{bad`)
	r.do("POST", "/v1/instances/live-1/events/Go", `1`)
	r.do("GET", "/nowhere", "")
	a := r.do("GET", "/metrics", "")
	if !strings.HasPrefix(a.hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("Content-Type %q", a.hdr.Get("Content-Type"))
	}
	m, err := scrape.Parse(bytes.NewReader(a.body))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"warren_dispatcher_http_requests_total", []string{"route", "POST /v1/instances", "code", "202"}, 2},
		{"warren_dispatcher_http_requests_total", []string{"route", "POST /v1/instances", "code", "400"}, 1},
		{"warren_dispatcher_http_requests_total", []string{"route", "POST /v1/instances/{id}/events/{name}", "code", "202"}, 1},
		{"warren_dispatcher_http_requests_total", []string{"route", "unmatched", "code", "404"}, 1},
		{"warren_dispatcher_http_request_duration_seconds_count", []string{"route", "POST /v1/instances"}, 3},
		{"warren_dispatcher_orchestrations_started_total", nil, 2},
		{"warren_dispatcher_events_raised_total", nil, 1},
		{"warren_dispatcher_control_messages_published_total", []string{"kind", "ExecutionStarted"}, 2},
		{"warren_dispatcher_waiters", nil, 0},
	} {
		if got := m.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if !strings.Contains(string(a.body), "# TYPE warren_dispatcher_http_requests_total counter") {
		t.Errorf("no TYPE line for the requests counter:\n%s", a.body)
	}
}

func TestValidInstanceID(t *testing.T) {
	for _, id := range []string{"a", "batch-7", "parent:3", "A.b_c-D:9", strings.Repeat("x", 256)} {
		if validInstanceID(id) != nil {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", "a b", "a/b", "é", "a\x00", strings.Repeat("x", 257), "a?b"} {
		if validInstanceID(id) == nil {
			t.Errorf("%q accepted", id)
		}
	}
}

// pingingBroker is a broker whose Ping fails with err (a queues.Conn that cannot reach or
// hear from RabbitMQ).
type pingingBroker struct {
	Broker
	err error
}

func (b *pingingBroker) Ping(context.Context) error { return b.err }

func TestReadyzChecksTheBroker(t *testing.T) {
	r := newRig(t, Config{})
	b := &pingingBroker{Broker: r.broker}
	r.d.broker = b
	if a := r.do("GET", "/readyz", ""); a.code != 200 {
		t.Fatalf("readyz with the broker answering: %d %s", a.code, a.body)
	}
	b.err = errors.New("queues: no answer from amqp://u:p@10.0.0.1:5672/ within 5s")
	a := r.do("GET", "/readyz", "")
	if a.code != http.StatusServiceUnavailable || !strings.Contains(string(a.body), `"broker":"not answering"`) || strings.Contains(string(a.body), "u:p") {
		t.Fatalf("readyz with the broker silent: %d %s", a.code, a.body)
	}
}

// /readyz needs no token, so it answers a fixed phrase per dependency; the driver's error
// (hosts, topology) goes to the log, once per change rather than per probe.
func TestReadyzHidesDriverErrors(t *testing.T) {
	r := newRig(t, Config{})
	var logs bytes.Buffer
	r.d.log = slog.New(slog.NewTextHandler(&logs, nil))
	r.store.failWith = errors.New("server selection error: topology { Type: Unknown, Servers: [{ Addr: mongo-0.internal:27017 }] }")
	for range 3 {
		a := r.do("GET", "/readyz", "")
		var got struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}
		if err := json.Unmarshal(a.body, &got); err != nil || a.code != http.StatusServiceUnavailable ||
			got.Status != "not ready" || len(got.Checks) != 2 || got.Checks["store"] != "not answering" || got.Checks["broker"] != "ok" {
			t.Fatalf("%d %s", a.code, a.body)
		}
		if strings.Contains(string(a.body), "mongo-0") || strings.Contains(string(a.body), "topology") {
			t.Fatalf("readyz shows the driver's error: %s", a.body)
		}
	}
	if n := strings.Count(logs.String(), "mongo-0.internal"); n != 1 {
		t.Fatalf("the store's error is logged %d times, want once:\n%s", n, logs.String())
	}
	r.store.mu.Lock()
	r.store.failWith = nil
	r.store.mu.Unlock()
	if a := r.do("GET", "/readyz", ""); a.code != http.StatusOK || !strings.Contains(string(a.body), `"store":"ok"`) {
		t.Fatalf("%d %s", a.code, a.body)
	}
	if !strings.Contains(logs.String(), "store answering again") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

func TestMethodNotAllowedIsJSON(t *testing.T) {
	r := newRig(t, Config{})
	seed(r.store, "live-1", history.StatusRunning)
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/v1/instances", "GET, POST, DELETE"},
		{"POST", "/v1/instances/live-1", "GET, DELETE"},
		{"GET", "/v1/instances/live-1/terminate", "POST"},
		{"DELETE", "/v1/workers", "GET"},
	} {
		a := r.do(c.method, c.path, "")
		if a.code != http.StatusMethodNotAllowed || a.hdr.Get("Allow") != c.allow || a.errorBody(t).Code != api.CodeMethodNotAllowed {
			t.Errorf("%s %s: %d %s Allow=%q", c.method, c.path, a.code, a.body, a.hdr.Get("Allow"))
		}
	}
	if n := r.broker.total(); n != 0 {
		t.Fatalf("%d messages published", n)
	}
}
