package dispatcher

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metrics are the dispatcher's counters, served in the Prometheus text format.
type metrics struct {
	mu        sync.Mutex
	requests  map[[2]string]uint64 // route, code
	durations map[string]*durationSum
	byKind    map[string]uint64 // control messages published, by kind
	starts    uint64
	raises    uint64
	pubFails  uint64
}

type durationSum struct {
	sum   float64
	count uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, durations: map[string]*durationSum{}, byKind: map[string]uint64{}}
}

func (m *metrics) request(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{route, strconv.Itoa(code)}]++
	s := m.durations[route]
	if s == nil {
		s = &durationSum{}
		m.durations[route] = s
	}
	s.sum += d.Seconds()
	s.count++
}

func (m *metrics) started() {
	m.mu.Lock()
	m.starts++
	m.mu.Unlock()
}

func (m *metrics) raised() {
	m.mu.Lock()
	m.raises++
	m.mu.Unlock()
}

func (m *metrics) published(kind string) {
	m.mu.Lock()
	m.byKind[kind]++
	m.mu.Unlock()
}

func (m *metrics) publishFailed() {
	m.mu.Lock()
	m.pubFails++
	m.mu.Unlock()
}

func (d *Dispatcher) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(d.metrics.text()))
}

// text renders the counters; series are sorted so the output is stable.
func (m *metrics) text() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}

	family("warren_dispatcher_http_requests_total", "counter", "HTTP requests by route and status code.")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "warren_dispatcher_http_requests_total{route=\"%s\",code=\"%s\"} %d\n", label(k[0]), k[1], m.requests[k])
	}

	family("warren_dispatcher_http_request_duration_seconds", "summary", "Time to answer HTTP requests, by route.")
	routes := make([]string, 0, len(m.durations))
	for r := range m.durations {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		s := m.durations[r]
		fmt.Fprintf(&b, "warren_dispatcher_http_request_duration_seconds_sum{route=\"%s\"} %g\n", label(r), s.sum)
		fmt.Fprintf(&b, "warren_dispatcher_http_request_duration_seconds_count{route=\"%s\"} %d\n", label(r), s.count)
	}

	family("warren_dispatcher_orchestrations_started_total", "counter", "Orchestration instances started.")
	fmt.Fprintf(&b, "warren_dispatcher_orchestrations_started_total %d\n", m.starts)
	family("warren_dispatcher_events_raised_total", "counter", "External events raised.")
	fmt.Fprintf(&b, "warren_dispatcher_events_raised_total %d\n", m.raises)

	family("warren_dispatcher_control_messages_published_total", "counter", "Control messages published, by kind.")
	kinds := make([]string, 0, len(m.byKind))
	for k := range m.byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "warren_dispatcher_control_messages_published_total{kind=\"%s\"} %d\n", label(k), m.byKind[k])
	}
	family("warren_dispatcher_publish_failures_total", "counter", "Control messages the broker did not confirm.")
	fmt.Fprintf(&b, "warren_dispatcher_publish_failures_total %d\n", m.pubFails)
	return b.String()
}

// label escapes a label value as the text format wants.
func label(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
