package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
)

// jaegerSpan is a span as Jaeger's /api/v3/traces/{id} returns it, with its process.
type jaegerSpan struct {
	SpanID, ParentSpanID, Name string
	Service, Instance          string
}

// readTrace reads one trace from Jaeger's v3 API.
func readTrace(traceID string) ([]jaegerSpan, error) {
	resp, err := http.Get(testenv.JaegerQueryURL() + "/api/v3/traces/" + traceID)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jaeger answered %s", resp.Status)
	}
	type attr struct {
		Key   string `json:"key"`
		Value struct {
			StringValue string `json:"stringValue"`
		} `json:"value"`
	}
	var body struct {
		Result struct {
			ResourceSpans []struct {
				Resource struct {
					Attributes []attr `json:"attributes"`
				} `json:"resource"`
				ScopeSpans []struct {
					Spans []struct {
						TraceID      string `json:"traceId"`
						SpanID       string `json:"spanId"`
						ParentSpanID string `json:"parentSpanId"`
						Name         string `json:"name"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var out []jaegerSpan
	for _, rs := range body.Result.ResourceSpans {
		var service, instance string
		for _, a := range rs.Resource.Attributes {
			switch a.Key {
			case "service.name":
				service = a.Value.StringValue
			case "service.instance.id":
				instance = a.Value.StringValue
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if s.TraceID != traceID {
					return nil, fmt.Errorf("span %s has trace %s, want %s", s.SpanID, s.TraceID, traceID)
				}
				out = append(out, jaegerSpan{s.SpanID, s.ParentSpanID, s.Name, service, instance})
			}
		}
	}
	return out, nil
}

// The seed scenario on three worker processes is one trace in Jaeger with the whole tree.
// The parent and its ten children live in partitions that the three workers share out once
// the fleet has settled, so the tree crosses processes (the activities run in place, on
// their orchestration's worker).
func TestSeedScenarioIsOneTraceInJaeger(t *testing.T) {
	testenv.RequireJaeger(t)
	f := fleettest.Start(t, fleettest.Options{Workers: 3, Endpoints: true, Env: []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + testenv.JaegerOTLPEndpoint(),
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY=200",
	}})
	if err := f.WaitSettled(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	id := testenv.UniqueName("traced")
	const devices = 10
	out := f.MustClient("start", "ProvisionNewDevices", "--input", fmt.Sprintf(`{"devices": %d}`, devices), "--id", id, "--json")
	var started struct {
		TraceID string `json:"traceId"`
	}
	if err := json.Unmarshal([]byte(out), &started); err != nil || len(started.TraceID) != 32 {
		t.Fatalf("client start --json gave no trace id: %q", out)
	}
	fleettest.WaitUntil(t, time.Minute, "children started", func() bool {
		return len(list(t, f, "--parent", id)) == devices
	})
	for i := 1; i <= devices; i++ {
		f.MustClient("raise", fmt.Sprintf("%s:device-%04d", id, i), "DownloadCompletedAck", "--data", "true")
	}
	if st, code := waitDone(t, f, id, "2m"); code != 0 || st.Status != history.StatusCompleted {
		t.Fatalf("ended %s (exit %d)", st.Status, code)
	}

	const want = 3 + devices*4 // create, orchestration, GetNewDeviceIds; per device 4 spans
	var spans []jaegerSpan
	fleettest.WaitUntil(t, 30*time.Second, fmt.Sprintf("%d spans in Jaeger", want), func() bool {
		s, err := readTrace(started.TraceID)
		if err != nil {
			return false
		}
		spans = s
		return len(s) >= want
	})
	if len(spans) != want {
		t.Fatalf("trace has %d spans, want %d: %v", len(spans), want, names(spans))
	}

	byID := map[string]jaegerSpan{}
	children := map[string][]jaegerSpan{}
	var roots []jaegerSpan
	for _, s := range spans {
		if _, dup := byID[s.SpanID]; dup {
			t.Fatalf("span id %s appears twice", s.SpanID)
		}
		byID[s.SpanID] = s
	}
	workers := map[string]bool{}
	for _, s := range spans {
		if _, ok := byID[s.ParentSpanID]; ok {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		} else {
			roots = append(roots, s)
		}
		if s.Service == "warren-worker" {
			workers[s.Instance] = true
		}
	}
	if len(roots) != 1 || roots[0].Name != "create_orchestration ProvisionNewDevices" {
		t.Fatalf("roots = %v, want one create_orchestration ProvisionNewDevices", names(roots))
	}
	orch := only(t, children[roots[0].SpanID], "orchestration ProvisionNewDevices")
	kids := children[orch.SpanID]
	if got := names(kids); strings.Count(strings.Join(got, ","), "orchestration DeviceProvisioningOrchestration") != devices ||
		strings.Count(strings.Join(got, ","), "activity GetNewDeviceIds") != 1 || len(kids) != devices+1 {
		t.Fatalf("under the parent orchestration: %v", got)
	}
	for _, k := range kids {
		if k.Name != "orchestration DeviceProvisioningOrchestration" {
			continue
		}
		got := names(children[k.SpanID])
		wantKids := []string{"activity CreateInstallationPackage", "activity SendPackageUrlToDevice", "event DownloadCompletedAck"}
		if strings.Join(got, ",") != strings.Join(wantKids, ",") {
			t.Fatalf("under a device orchestration: %v, want %v", got, wantKids)
		}
	}
	if len(workers) < 2 {
		t.Fatalf("spans came from %d worker processes, want at least 2", len(workers))
	}
}

func names(spans []jaegerSpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	sort.Strings(out)
	return out
}

func only(t *testing.T, spans []jaegerSpan, name string) jaegerSpan {
	t.Helper()
	if len(spans) != 1 || spans[0].Name != name {
		t.Fatalf("got %v, want exactly %q", names(spans), name)
	}
	return spans[0]
}
