package integration

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/warrenhq/warren/tracing"
)

// closeAfter is a toxic of ours ("close_after"): data flows as through no toxic, and the
// connection is closed Timeout milliseconds after the toxic began acting on it (a new
// connection's start, or the toxic's arrival on an open one). toxiproxy's own reset_peer
// holds the first chunk that arrives and resets the connection when the timeout ends, so
// nothing at all passes while it acts; this one makes connections that work for a while and
// then drop, as a flaky network or a load balancer's idle reaper does.
type closeAfter struct {
	Timeout int64 `json:"timeout"`
}

func (c *closeAfter) Pipe(stub *toxics.ToxicStub) {
	deadline := time.NewTimer(time.Duration(c.Timeout) * time.Millisecond)
	defer deadline.Stop()
	for {
		select {
		case <-stub.Interrupt:
			return
		case chunk := <-stub.Input:
			if chunk == nil {
				stub.Close()
				return
			}
			stub.Output <- chunk
		case <-deadline.C:
			stub.Close()
			return
		}
	}
}

func init() { toxics.Register("close_after", new(closeAfter)) }

// toxiLink is an in-process toxiproxy proxy on 127.0.0.1 in front of one service; toxics
// added to it act on every connection through it, the ones open and the ones to come.
type toxiLink struct {
	t     *testing.T
	proxy *toxiproxy.Proxy
}

// newToxiLink starts a proxy to upstream (host:port) on a free port of 127.0.0.1; it is
// stopped, with every connection through it, when the test ends.
func newToxiLink(t *testing.T, name, upstream string) *toxiLink {
	t.Helper()
	// Some toxics log every chunk through zerolog's global logger at trace level.
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("starting toxiproxy %s to %s: %v", name, upstream, err)
	}
	t.Cleanup(p.Stop)
	return &toxiLink{t: t, proxy: p}
}

// Addr is where the proxy listens.
func (l *toxiLink) Addr() string { return l.proxy.Listen }

// toxic is one toxiproxy toxic: its type and attributes as toxiproxy's API takes them
// (latency, reset_peer, timeout, bandwidth, slicer, ...).
type toxic struct {
	Type       string
	Attributes map[string]any
}

// add puts the toxic on both directions of the link, named name-upstream and
// name-downstream.
func (l *toxiLink) add(name string, x toxic) {
	l.t.Helper()
	for _, stream := range []string{"upstream", "downstream"} {
		body, err := json.Marshal(map[string]any{
			"name": name + "-" + stream, "type": x.Type, "stream": stream,
			"toxicity": 1.0, "attributes": x.Attributes,
		})
		if err != nil {
			l.t.Fatal(err)
		}
		if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
			l.t.Fatalf("adding toxic %s (%s) to %s: %v", name, x.Type, l.proxy.Name, err)
		}
	}
}

// clear removes every toxic: the link carries bytes untouched again.
func (l *toxiLink) clear() { l.proxy.Toxics.ResetToxics(context.Background()) }

// viaProxy returns rawURL (amqp:// or mongodb://, one host) with its host and port
// replaced by addr, keeping the user, path and query.
func viaProxy(t *testing.T, rawURL, addr string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || strings.Contains(u.Host, ",") {
		t.Fatalf("cannot put a proxy in front of %q: want a URL with one host", rawURL)
	}
	u.Host = addr
	return u.String()
}

// hostOf returns the host:port of a one-host URL, with def's port when it names none.
func hostOf(t *testing.T, rawURL, defPort string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		t.Fatalf("cannot read the host of %q", rawURL)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), defPort)
	}
	return u.Host
}

// activityRuns is an OTLP/HTTP trace receiver that counts the activity spans the workers
// export: one span per attempt that ran (tracing.StartActivity), so the count per task
// says how often an activity really ran, which the history alone cannot tell.
type activityRuns struct {
	URL string // the endpoint, for OTEL_EXPORTER_OTLP_ENDPOINT

	mu   sync.Mutex
	runs map[string]map[int64]int // instance id -> task id -> spans
	bad  error                    // the first export that could not be read
}

// newActivityRuns starts the receiver on a free port of 127.0.0.1 until the test ends.
func newActivityRuns(t *testing.T) *activityRuns {
	t.Helper()
	a := &activityRuns{runs: map[string]map[int64]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(a.serve)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	a.URL = "http://" + l.Addr().String()
	return a
}

func (a *activityRuns) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(r.Body)
		if err != nil {
			a.fail(w, err)
			return
		}
		body = z
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		a.fail(w, err)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		a.fail(w, err)
		return
	}
	a.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				if !strings.HasPrefix(s.GetName(), "activity ") {
					continue
				}
				var instance string
				var task int64
				for _, kv := range s.GetAttributes() {
					switch kv.GetKey() {
					case string(tracing.AttrInstanceID):
						instance = kv.GetValue().GetStringValue()
					case string(tracing.AttrTaskID):
						task = kv.GetValue().GetIntValue()
					}
				}
				if a.runs[instance] == nil {
					a.runs[instance] = map[int64]int{}
				}
				a.runs[instance][task]++
			}
		}
	}
	a.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (a *activityRuns) fail(w http.ResponseWriter, err error) {
	a.mu.Lock()
	if a.bad == nil {
		a.bad = fmt.Errorf("reading an OTLP export: %w", err)
	}
	a.mu.Unlock()
	http.Error(w, err.Error(), http.StatusBadRequest)
}

// of returns, for the given instances, the runs of each of their tasks.
func (a *activityRuns) of(ids []string) (map[string]map[int64]int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]map[int64]int, len(ids))
	for _, id := range ids {
		tasks := map[int64]int{}
		for task, n := range a.runs[id] {
			tasks[task] = n
		}
		out[id] = tasks
	}
	return out, a.bad
}
