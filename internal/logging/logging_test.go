package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// A JSON line about an instance with a trace carries instance_id, trace_id and span_id as
// top-level keys; without a trace, only instance_id.
func TestJSONLineJoinsItsTrace(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, FormatJSON, "info")
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid})
	log.Warn("with trace", Instance("order-1", sc, "err", "boom")...)
	log.Info("without trace", Instance("order-2", trace.SpanContext{})...)
	log.Info("trace id only", InstanceTrace("order-3", tid.String())...)
	log.Debug("below the level", Instance("order-4", sc)...)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	want := []map[string]string{
		{"msg": "with trace", "instance_id": "order-1", "trace_id": tid.String(), "span_id": sid.String(), "err": "boom"},
		{"msg": "without trace", "instance_id": "order-2"},
		{"msg": "trace id only", "instance_id": "order-3", "trace_id": tid.String()},
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %q", i, k, got[k], v)
			}
		}
		if _, ok := want[i]["span_id"]; !ok && got["span_id"] != nil {
			t.Errorf("line %d has a span_id without a span: %s", i, line)
		}
	}
}

func TestNewRefusesWhatItDoesNotKnow(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "xml", "info"); err == nil || !strings.Contains(err.Error(), "WARREN_LOG_FORMAT") {
		t.Errorf("format xml: %v", err)
	}
	if _, err := New(&bytes.Buffer{}, "json", "loud"); err == nil || !strings.Contains(err.Error(), "WARREN_LOG_LEVEL") {
		t.Errorf("level loud: %v", err)
	}
	if _, err := New(&bytes.Buffer{}, "", "debug"); err != nil {
		t.Errorf("the default format: %v", err)
	}
}
