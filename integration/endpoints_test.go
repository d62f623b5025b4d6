package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/scrape"
	"github.com/warrenhq/warren/internal/testenv"
)

// A real fleet's /metrics count what ran: after N hello sequences, the workers' metrics
// (summed over the workers, as a dashboard sums them) show N executions completed, 5N
// SayHello activities and 6N episodes, the partitions are all owned, and the dispatcher
// counts N starts. Each worker is ready on its own port, and every line the fleet logs
// with WARREN_LOG_FORMAT=json is a JSON object.
func TestFleetMetricsCountWhatRan(t *testing.T) {
	const n = 20
	f := fleettest.Start(t, fleettest.Options{Workers: 2, Endpoints: true, Env: []string{"WARREN_LOG_FORMAT=json"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, w := range f.Workers() {
		fleettest.WaitUntil(t, 30*time.Second, w.Name+" ready", func() bool { return get(w.EndpointsURL+"/readyz") == http.StatusOK })
		if code := get(w.EndpointsURL + "/healthz"); code != http.StatusOK {
			t.Fatalf("%s /healthz: %d", w.Name, code)
		}
	}
	c := client.New(f.URL)
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", testenv.UniqueName("metrics"), i)
		if _, err := c.Start(ctx, "HelloSequence", "metrics", client.WithInstanceID(ids[i])); err != nil {
			t.Fatalf("start %s: %v", ids[i], err)
		}
	}
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Wait(ctx, id, time.Minute)
			if err == nil && st.Status != "Completed" {
				err = fmt.Errorf("%s ended %s", id, st.Status)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	sum := func(names string, labels ...string) float64 {
		total := 0.0
		for _, w := range f.Workers() {
			s, err := scrape.Fetch(ctx, w.EndpointsURL+"/metrics", "")
			if err != nil {
				t.Fatalf("%s: %v", w.Name, err)
			}
			for name := range strings.SplitSeq(names, "+") {
				total += s.Value(name, labels...)
			}
		}
		return total
	}
	// Committed episodes and ended executions are exact: a number is committed once, and an
	// execution ends in one episode. A hello commits six episodes less one for each result
	// folded into the episode that scheduled it (worker/fold.go). Activities run at least
	// once: a work item the broker hands out again (a worker that stalled past its
	// heartbeat) may run twice.
	for _, c := range []struct {
		name    string
		labels  []string
		want    float64
		atLeast bool
	}{
		{"warren_worker_orchestrations_ended_total", []string{"status", "Completed"}, n, false},
		{"warren_worker_episodes_total+warren_worker_activities_folded_total", nil, 6 * n, false},
		{"warren_worker_activities_total", []string{"activity", "SayHello", "outcome", "completed"}, 5 * n, true},
		{"warren_worker_activity_duration_seconds_count", []string{"activity", "SayHello"}, 5 * n, true},
		{"warren_worker_partitions_owned", nil, float64(f.Partitions), false},
		{"warren_worker_dead_letters_total", nil, 0, false},
	} {
		// An instance's end is counted before it is announced, and so before the wait
		// answered; the activities and episodes before it. Polled all the same, briefly.
		fleettest.WaitUntil(t, 10*time.Second, fmt.Sprintf("%s%v = %v", c.name, c.labels, c.want), func() bool {
			got := sum(c.name, c.labels...)
			return got == c.want || c.atLeast && got > c.want
		})
	}
	// Nothing is left waiting in the broker, and each worker says so.
	for _, w := range f.Workers() {
		s, err := scrape.Fetch(ctx, w.EndpointsURL+"/metrics", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"workitems", "control"} {
			if !s.Has("warren_worker_queue_messages") || s.Value("warren_worker_queue_messages", "queue", q) != 0 {
				t.Errorf("%s: warren_worker_queue_messages{queue=%q} = %v (present: %v), want 0", w.Name, q,
					s.Value("warren_worker_queue_messages", "queue", q), s.Has("warren_worker_queue_messages"))
			}
		}
	}
	d, err := scrape.Fetch(ctx, f.URL+"/metrics", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Value("warren_dispatcher_orchestrations_started_total"); got != n {
		t.Errorf("dispatcher started %v, want %d", got, n)
	}
	if got := d.Value("warren_dispatcher_http_requests_total", "route", "POST /v1/instances", "code", "202"); got != n {
		t.Errorf("dispatcher answered %v starts with 202, want %d", got, n)
	}
	if got := d.Value("warren_dispatcher_announcements_total"); got < n {
		t.Errorf("dispatcher heard %v announcements, want at least %d", got, n)
	}
	for _, p := range append(f.Workers(), &fleettest.Proc{Name: "dispatcher"}) {
		lines := strings.Split(strings.TrimSpace(f.Logs(p.Name)), "\n")
		for _, line := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil || m["level"] == nil {
				t.Fatalf("%s logged a line that is not a JSON record (%v): %s", p.Name, err, line)
			}
		}
		if len(lines) < 2 {
			t.Errorf("%s logged %d lines", p.Name, len(lines))
		}
	}
}

// A worker whose endpoints' address is taken exits at once with an error that names the
// setting; one that waits for its broker is healthy but not ready, and says why.
func TestWorkerEndpointsAtStartup(t *testing.T) {
	bins := fleettest.Binaries(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(bins, "worker"), "--metrics-addr", taken.Addr().String()).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "WARREN_METRICS_ADDR") {
		t.Fatalf("worker on a taken address: %v\n%s", err, out)
	}

	// A broker that refuses connections: the worker waits for it, and says so.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	brokerAddr := closed.Addr().String()
	closed.Close()
	port, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := port.Addr().String()
	port.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(bins, "worker"))
	cmd.Env = append(cmd.Environ(), "WARREN_AMQP_URL=amqp://guest:guest@"+brokerAddr+"/", "WARREN_METRICS_ADDR="+addr,
		"WARREN_HUB="+testenv.UniqueName("unready"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var body struct{ Status, Reason string }
	fleettest.WaitUntil(t, 30*time.Second, "/readyz to say why the worker waits", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body.Reason = ""
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(body.Reason, "broker")
	})
	if strings.Contains(body.Reason, brokerAddr) || strings.Contains(body.Reason, "guest") {
		t.Fatalf("the reason names the host or the credentials: %q", body.Reason)
	}
	if code := get("http://" + addr + "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz while waiting: %d", code)
	}
}

// get answers the status code of a GET, 0 when the request fails.
func get(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
