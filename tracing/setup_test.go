package tracing

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// otelEnv lists the variables Setup and the exporters read; cleanEnv unsets them for a test.
var otelEnv = []string{
	"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
}

// cleanEnv unsets every OTEL_* variable that matters here and restores otel's globals,
// which Setup replaces, when the test ends.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, k := range otelEnv {
		t.Setenv(k, "")
	}
	tp, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(tp)
		otel.SetTextMapPropagator(prop)
	})
}

func TestExportConfigFrom(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    string // protocol; "" = nothing exported
		wantErr string
	}{
		{name: "nothing set", env: nil, want: ""},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, want: protocolHTTP},
		{name: "traces endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h:4318/v1/traces"}, want: protocolHTTP},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, want: protocolGRPC},
		{name: "traces protocol wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4317",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, want: protocolGRPC},
		{name: "protocol without endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, want: ""},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318", "OTEL_TRACES_EXPORTER": "none"}, want: ""},
		{name: "sdk disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318", "OTEL_SDK_DISABLED": "true"}, want: ""},
		{name: "exporter otlp", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318", "OTEL_TRACES_EXPORTER": "otlp"}, want: protocolHTTP},
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{name: "unknown protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: "http/json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := exportConfigFrom(func(k string) string { return c.env[k] })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, c.wantErr)
				}
				return
			}
			if err != nil || cfg.protocol != c.want {
				t.Fatalf("protocol %q, err %v; want %q", cfg.protocol, err, c.want)
			}
		})
	}
}

func TestSetupWithoutEndpointExportsNothing(t *testing.T) {
	cleanEnv(t)
	ctx := context.Background()
	tp, exp, err := newProvider(ctx, "warren-test", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if exp != nil {
		t.Fatalf("exporter %T built without an endpoint", exp)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	tp, shutdown, err := Setup(ctx, "warren-test")
	if err != nil {
		t.Fatalf("Setup without endpoint: %v", err)
	}
	_, span := tp.Tracer("t").Start(ctx, "s")
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if otel.GetTracerProvider() != tp {
		t.Error("Setup did not install its provider globally")
	}
	if _, ok := otel.GetTextMapPropagator().(propagation.TraceContext); !ok {
		t.Errorf("global propagator is %T, want propagation.TraceContext", otel.GetTextMapPropagator())
	}
}

func TestSetupResourceAndIDs(t *testing.T) {
	cleanEnv(t)
	ctx := context.Background()
	resourceOf := func() map[string]string {
		tp, shutdown, err := Setup(ctx, "warren-worker")
		if err != nil {
			t.Fatal(err)
		}
		defer shutdown(ctx)
		rec := tracetest.NewSpanRecorder()
		tp.RegisterSpanProcessor(rec)
		chosen := mustSpanID(t, "0102030405060708")
		_, span := tp.Tracer("t").Start(WithSpanID(ctx, chosen), "s")
		span.End()
		s := spanNamed(t, rec, "s")
		if s.SpanContext().SpanID() != chosen {
			t.Errorf("Setup's provider ignored the chosen span id: got %s", s.SpanContext().SpanID())
		}
		attrs := map[string]string{}
		for _, kv := range s.Resource().Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		return attrs
	}

	a := resourceOf()
	if a["service.name"] != "warren-worker" || len(a["service.instance.id"]) != 32 {
		t.Fatalf("resource %v, want service.name warren-worker and a service.instance.id", a)
	}
	t.Setenv("OTEL_SERVICE_NAME", "renamed")
	if b := resourceOf(); b["service.name"] != "renamed" {
		t.Fatalf("with OTEL_SERVICE_NAME=renamed service.name = %q", b["service.name"])
	}
}

// TestSetupExportsOverHTTP and TestSetupExportsOverGRPC send a span through Setup's
// provider to a fake OTLP collector and check what arrives.
func TestSetupExportsOverHTTP(t *testing.T) {
	cleanEnv(t)
	got := make(chan *coltracepb.ExportTraceServiceRequest, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		got <- req
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "over-http")
	exportOneSpan(t, got, "over-http")
}

type fakeCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	got chan *coltracepb.ExportTraceServiceRequest
}

func (f *fakeCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	f.got <- req
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func TestSetupExportsOverGRPC(t *testing.T) {
	cleanEnv(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *coltracepb.ExportTraceServiceRequest, 10)
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, &fakeCollector{got: got})
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+lis.Addr().String()) // http: plaintext
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_SERVICE_NAME", "over-grpc")
	exportOneSpan(t, got, "over-grpc")
}

// exportOneSpan records one span through Setup's provider, shuts it down (which flushes)
// and expects that span, from service, at the collector.
func exportOneSpan(t *testing.T, got <-chan *coltracepb.ExportTraceServiceRequest, service string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tp, shutdown, err := Setup(ctx, "warren-test")
	if err != nil {
		t.Fatal(err)
	}
	chosen := mustSpanID(t, "a1a2a3a4a5a6a7a8")
	_, span := tp.Tracer("t").Start(WithSpanID(ctx, chosen), "exported")
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case req := <-got:
		rs := req.GetResourceSpans()
		if len(rs) != 1 || len(rs[0].GetScopeSpans()) != 1 || len(rs[0].GetScopeSpans()[0].GetSpans()) != 1 {
			t.Fatalf("export request %v, want one span", req)
		}
		s := rs[0].GetScopeSpans()[0].GetSpans()[0]
		if s.GetName() != "exported" || string(s.GetSpanId()) != string(chosen[:]) {
			t.Errorf("exported span %q id %x, want \"exported\" id %s", s.GetName(), s.GetSpanId(), chosen)
		}
		var name string
		for _, kv := range rs[0].GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				name = kv.GetValue().GetStringValue()
			}
		}
		if name != service {
			t.Errorf("exported service.name %q, want %q", name, service)
		}
	default:
		t.Fatal("nothing reached the collector although shutdown flushed without error")
	}
}
