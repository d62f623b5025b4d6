package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

// stub is a dispatcher double serving canned instances: its statuses say how each one
// ends. It records the requests it got.
type stub struct {
	mu sync.Mutex
	// unwritten is how many lists of a run's unended instances (those with createdFrom) still
	// find one: the documents a bench waits for are behind by that many polls.
	unwritten int
	requests  []string
	bodies    []string
}

var stubInstances = map[string]api.Status{
	"done":    {InstanceID: "done", Name: "Hello", Status: history.StatusCompleted, Output: json.RawMessage(`{"provisioned":50}`), TraceID: "abc"},
	"failed":  {InstanceID: "failed", Name: "Hello", Status: history.StatusFailed, Failure: &history.Failure{Type: "Boom", Message: "it broke"}},
	"killed":  {InstanceID: "killed", Name: "Hello", Status: history.StatusTerminated},
	"running": {InstanceID: "running", Name: "Hello", Status: history.StatusRunning},
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	_, _ = body.ReadFrom(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	s.bodies = append(s.bodies, body.String())
	s.mu.Unlock()
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	switch {
	case r.Method == "POST" && r.URL.Path == "/v1/instances":
		var req api.StartRequest
		_ = json.Unmarshal(body.Bytes(), &req)
		if req.Name != "Hello" {
			reply(422, api.ErrorBody{Error: `orchestrator "` + req.Name + `" is not registered on any live worker (registered: Hello)`, Code: api.CodeUnknownOrchestrator, Known: []string{"Hello"}})
			return
		}
		id := req.InstanceID
		if id == "" {
			id = "generated"
		}
		reply(202, api.Status{InstanceID: id, Name: "Hello", Status: history.StatusPending, TraceID: "abc"})
	case r.URL.Path == "/v1/workers":
		// The worker's store finds twice per start the dispatcher has had.
		ops := history.OpCounts{Find: history.OpCount{Calls: 2 * s.starts(), Docs: 2 * s.starts()}}
		reply(200, api.WorkersResponse{Partitions: 4, Workers: []api.Worker{{WorkerID: "w1", Partitions: []int{0, 1, 2, 3}, HeartbeatAt: time.Now(), StoreOps: &ops}}})
	case r.URL.Path == "/v1/stats":
		ops := history.OpCounts{Insert: history.OpCount{Calls: s.starts(), Docs: s.starts()}}
		reply(200, api.Stats{Hub: "h", StartedAt: time.Now(), StoreOps: &ops})
	case r.Method == "GET" && r.URL.Path == "/v1/instances":
		if r.URL.Query().Get("createdFrom") != "" { // a bench's question: is a document behind?
			s.mu.Lock()
			behind := s.unwritten > 0 && r.URL.Query().Get("status") == string(history.StatusRunning)
			if r.URL.Query().Get("status") == string(history.StatusRunning) {
				s.unwritten--
			}
			s.mu.Unlock()
			if behind {
				reply(200, api.ListResponse{Instances: []api.Status{{InstanceID: "bench-x-000001", Name: "Hello", Status: history.StatusRunning}}})
			} else {
				reply(200, api.ListResponse{})
			}
			return
		}
		reply(200, api.ListResponse{Instances: []api.Status{stubInstances["done"], stubInstances["running"]}})
	case len(parts) >= 2 && parts[0] == "instances":
		st, ok := stubInstances[parts[1]]
		if strings.HasPrefix(parts[1], "bench-") { // bench instances take 10 ms each, ending now
			t0 := time.Now().UTC().Add(-10 * time.Millisecond)
			st, ok = api.Status{InstanceID: parts[1], Name: "Hello", Status: history.StatusCompleted, CreatedAt: t0, LastUpdatedAt: t0.Add(10 * time.Millisecond)}, true
		}
		if !ok {
			reply(404, api.ErrorBody{Error: `instance "` + parts[1] + `" not found`, Code: api.CodeNotFound})
			return
		}
		if len(parts) == 3 && parts[2] == "wait" && !st.Status.Terminal() {
			d, _ := time.ParseDuration(r.URL.Query().Get("timeout"))
			time.Sleep(min(d, time.Second))
			reply(408, api.ErrorBody{Error: "still running", Code: api.CodeTimeout, Status: &st})
			return
		}
		if r.Method == "POST" || r.Method == "DELETE" {
			reply(202, st)
			return
		}
		reply(200, st)
	default:
		reply(404, api.ErrorBody{Error: "no route", Code: api.CodeNotFound})
	}
}

// starts counts the starts the stub has answered.
func (s *stub) starts() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, r := range s.requests {
		if r == "POST /v1/instances" {
			n++
		}
	}
	return n
}

type result struct {
	code           int
	stdout, stderr string
}

func runClient(t *testing.T, s *stub, args ...string) result {
	t.Helper()
	srv := httptest.NewServer(s)
	defer srv.Close()
	t.Setenv("WARREN_DISPATCHER", srv.URL)
	t.Setenv("WARREN_TOKEN", "")
	var out, errb bytes.Buffer
	code := run(context.Background(), args, env{stdin: strings.NewReader(`{"from":"stdin"}`), stdout: &out, stderr: &errb})
	return result{code, out.String(), errb.String()}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{"start", []string{"start", "Hello", "--id", "x-1"}, 0, "Started Hello as x-1", ""},
		{"start flags first", []string{"--json", "start", "--id", "x-2", "Hello"}, 0, `"instanceId": "x-2"`, ""},
		{"start unknown orchestrator", []string{"start", "Nope"}, 1, "", "registered: Hello"},
		{"start bad input", []string{"start", "Hello", "--input", "{nope"}, 1, "", "not valid JSON"},
		{"start both inputs", []string{"start", "Hello", "--input", "1", "--input-file", "f"}, 2, "", "not both"},
		{"start missing file", []string{"start", "Hello", "--input-file", "/nonexistent/in.json"}, 1, "", "reading the input"},
		{"start --wait", []string{"start", "Hello", "--id", "done", "--wait"}, 0, `{"provisioned":50}`, ""},
		{"start --wait failed", []string{"start", "Hello", "--id", "failed", "--wait"}, 3, "Boom: it broke", "ended Failed"},
		{"wait completed", []string{"wait", "done"}, 0, "Completed", ""},
		{"wait failed", []string{"wait", "failed"}, 3, "Failed", ""},
		{"wait terminated", []string{"wait", "killed", "--json"}, 3, `"status": "Terminated"`, ""},
		{"wait timeout", []string{"wait", "running", "--timeout", "300ms"}, 4, "Running", "still Running after 300ms"},
		{"wait bad timeout", []string{"wait", "running", "--timeout", "soon"}, 2, "", "--timeout"},
		{"wait unknown", []string{"wait", "ghost"}, 1, "", `instance "ghost" not found`},
		{"status", []string{"status", "done"}, 0, "Completed", ""},
		{"status unknown", []string{"status", "ghost"}, 1, "", "HTTP 404"},
		{"list json", []string{"list", "--json", "--status", "Running,Completed"}, 0, `"instanceId": "running"`, ""},
		{"list", []string{"list"}, 0, "2 instance(s)", ""},
		{"raise", []string{"raise", "running", "Ack", "--data", "true"}, 0, "Raised Ack on running", ""},
		{"raise bad data", []string{"raise", "running", "Ack", "--data", "yes"}, 1, "", "not valid JSON"},
		{"raise unknown", []string{"raise", "ghost", "Ack"}, 1, "", "ghost"},
		{"terminate", []string{"terminate", "running", "--reason", "bad batch", "--recursive"}, 0, "Terminating running and its sub", ""},
		{"suspend", []string{"suspend", "running"}, 0, "Suspending running", ""},
		{"resume", []string{"resume", "running"}, 0, "Resuming running", ""},
		{"purge", []string{"purge", "done"}, 0, "Purged done", ""},
		{"workers", []string{"workers", "--json"}, 0, `[
  {
    "workerId": "w1"`, ""},
		{"workers readable", []string{"workers"}, 0, "1 live worker(s), 4 partitions", ""},
		{"history", []string{"history", "done"}, 0, "History", ""},
		{"no command", nil, 2, "", "Usage"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"missing argument", []string{"status"}, 2, "", "takes 1 argument"},
		{"extra argument", []string{"purge", "a", "b"}, 2, "", "takes 1 argument"},
		{"unknown flag", []string{"status", "x", "--verbose"}, 2, "", "flag provided but not defined"},
		{"help", []string{"--help"}, 0, "Exit codes", ""},
		{"command help", []string{"raise", "--help"}, 0, "-data", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runClient(t, &stub{}, c.args...)
			if r.code != c.code || !strings.Contains(r.stdout, c.out) || !strings.Contains(r.stderr, c.err) {
				t.Fatalf("client %v: exit %d, want %d\nstdout: %s\nstderr: %s", c.args, r.code, c.code, r.stdout, r.stderr)
			}
			if r.code == exitError && strings.Count(strings.TrimRight(r.stderr, "\n"), "\n") != 0 {
				t.Fatalf("an error is one line on stderr, got:\n%s", r.stderr)
			}
		})
	}
}

func TestRequestsSent(t *testing.T) {
	s := &stub{}
	if r := runClient(t, s, "start", "Hello", "--input-file", "-"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if r := runClient(t, s, "terminate", "running", "--reason", "bad batch", "--recursive"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if r := runClient(t, s, "start", "Hello", "--input", "{bad"); r.code != 1 {
		t.Fatalf("%+v", r)
	}
	want := []string{"POST /v1/instances", "POST /v1/instances/running/terminate"}
	if strings.Join(s.requests, "|") != strings.Join(want, "|") {
		t.Fatalf("requests %v, want %v (bad input must not reach the dispatcher)", s.requests, want)
	}
	if !strings.Contains(s.bodies[0], `"input":{"from":"stdin"}`) || !strings.Contains(s.bodies[1], `"reason":"bad batch","recursive":true`) {
		t.Fatalf("bodies %q", s.bodies)
	}
}

func TestStatusJSONHasExactlyTheDocumentedFields(t *testing.T) {
	r := runClient(t, &stub{}, "status", "done", "--json")
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"instanceId", "name", "status", "output", "failure", "customStatus", "createdAt", "lastUpdatedAt", "parentInstanceId", "traceId"}
	if len(m) != len(want) {
		t.Fatalf("fields %v", m)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Fatalf("missing %s in %s", k, r.stdout)
		}
	}
}

func TestHelpHidesTokenFromEnvironment(t *testing.T) {
	t.Setenv("WARREN_TOKEN", "s3cret")
	var out bytes.Buffer
	run(context.Background(), []string{"start", "--help"}, env{stdout: &out, stderr: &out})
	if strings.Contains(out.String(), "s3cret") {
		t.Fatalf("help shows the token:\n%s", out.String())
	}
}

func TestBench(t *testing.T) {
	s := &stub{}
	r := runClient(t, s, "bench", "Hello", "--count", "20", "--concurrency", "4", "--json", "--purge")
	if r.code != 0 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Count != 20 || res.Completed != 20 || res.Failed != 0 || res.LatencyP50Ms != 10 || res.LatencyP99Ms != 10 {
		t.Fatalf("%+v", res)
	}
	starts, purges := 0, 0
	for _, req := range s.requests {
		switch {
		case req == "POST /v1/instances":
			starts++
		case strings.HasPrefix(req, "DELETE /v1/instances/bench-"):
			purges++
		}
	}
	if starts != 20 || purges != 20 {
		t.Fatalf("%d starts, %d purges", starts, purges)
	}
	// The fleet's counters over the run: one insert per start at the dispatcher, two finds
	// at the worker.
	want := []opsPerOrchestration{{"insert", 1, 1}, {"find", 2, 2}, {"update", 0, 0}, {"delete", 0, 0}, {"other", 0, 0}}
	if res.StoreOps == nil || res.StoreOps.Sources != 2 || fmt.Sprint(res.StoreOps.PerOrchestration) != fmt.Sprint(want) {
		t.Fatalf("store ops %+v, want per orchestration %v", res.StoreOps, want)
	}
	// The client itself runs here, so /proc shows at least its own group.
	if res.CPU == nil || res.CPU.Skipped != "" || res.CPU.WindowSeconds <= 0 || !hasGroup(res.CPU, groupClient) {
		t.Fatalf("cpu %+v", res.CPU)
	}
	if r := runClient(t, s, "bench", "Nope", "--count", "3"); r.code != 1 || !strings.Contains(r.stderr, "registered: Hello") {
		t.Fatalf("bench of an unknown orchestrator: exit %d %s", r.code, r.stderr)
	}
}

// A bench lasts until the store lists none of its instances as unended, and counts that
// time: here the documents are behind for five polls (readModelPoll apart).
func TestBenchWaitsForTheDocuments(t *testing.T) {
	s := &stub{unwritten: 5}
	r := runClient(t, s, "bench", "Hello", "--count", "3", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if s.unwritten >= 0 {
		t.Fatalf("the bench stopped asking with %d polls still to find a document behind", s.unwritten+1)
	}
	if min := (5 * readModelPoll).Seconds(); res.ReadModelSeconds < min || res.ReadModelNote != "" {
		t.Fatalf("read model caught up after %.3f s (note %q), want at least %.1f s", res.ReadModelSeconds, res.ReadModelNote, min)
	}
	if want := 3 / (res.RunSeconds + res.ReadModelSeconds); res.PerSecondWritten != want {
		t.Fatalf("rate with the documents written %.2f/s, want %.2f", res.PerSecondWritten, want)
	}
	if res.CPU == nil || res.CPU.WindowSeconds < res.ReadModelSeconds {
		t.Fatalf("the CPU window (%+v) does not cover the %.3f s the documents took", res.CPU, res.ReadModelSeconds)
	}
}

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sts []*api.Status
	for i := 0; i < 100; i++ {
		st := &api.Status{InstanceID: fmt.Sprint(i), Status: history.StatusCompleted,
			CreatedAt: t0.Add(time.Duration(i) * 10 * time.Millisecond), LastUpdatedAt: t0.Add(time.Duration(i)*10*time.Millisecond + time.Duration(i+1)*time.Millisecond)}
		sts = append(sts, st)
	}
	sts[7].Status, sts[7].Failure = history.StatusFailed, &history.Failure{Type: "Boom", Message: "x"}
	res := summarize("Hello", "p", sts)
	if res.Completed != 99 || res.Failed != 1 || res.LatencyP50Ms != 50 || res.LatencyP99Ms != 99 || res.LatencyMaxMs != 100 ||
		!strings.Contains(res.FirstFailure, "Boom") || res.RunSeconds != 1.09 {
		t.Fatalf("%+v", res)
	}
}

func hasGroup(r *cpuReport, name string) bool {
	for _, g := range r.Groups {
		if g.Name == name {
			return true
		}
	}
	return false
}

// Without /proc, bench says the CPU was not measured and reports the rest.
func TestBenchWithoutProc(t *testing.T) {
	srv := httptest.NewServer(&stub{})
	defer srv.Close()
	t.Setenv("WARREN_DISPATCHER", srv.URL)
	var out, errb bytes.Buffer
	file := filepath.Join(t.TempDir(), "res.json")
	code := run(context.Background(), []string{"bench", "Hello", "--count", "5", "--json-file", file}, env{stdout: &out, stderr: &errb, proc: t.TempDir() + "/none"})
	if code != 0 || !strings.Contains(out.String(), "CPU: not measured (cannot read") ||
		!strings.Contains(out.String(), "insert       1.00 round trips") {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errb.String())
	}
	var res benchResult
	if b, err := os.ReadFile(file); err != nil || json.Unmarshal(b, &res) != nil || res.Completed != 5 || res.CPU.Skipped == "" {
		t.Fatalf("--json-file: %+v, %v", res, err)
	}
}

// With --closed and one slot, each instance is started only once the one before has ended:
// starts and waits alternate.
func TestBenchClosed(t *testing.T) {
	s := &stub{}
	r := runClient(t, s, "bench", "Hello", "--count", "5", "--concurrency", "1", "--closed", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	var seq []string
	for _, req := range s.requests {
		switch {
		case req == "POST /v1/instances":
			seq = append(seq, "start")
		case strings.HasSuffix(req, "/wait"):
			seq = append(seq, "wait")
		}
	}
	if got := strings.Join(seq, " "); got != strings.TrimSpace(strings.Repeat("start wait ", 5)) {
		t.Fatalf("requests %s", got)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Completed != 5 {
		t.Fatalf("%+v %v", res, err)
	}
}
