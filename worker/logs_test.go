package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/queues"
)

// A worker's line about an instance, in JSON, carries instance_id and the trace and span
// of the message it is about, so that it joins the trace in Jaeger.
func TestLogLineAboutAnInstanceCarriesItsTrace(t *testing.T) {
	f := newFleet(t, helloTwice(t, new(int)), nil, nil)
	var buf bytes.Buffer
	log, err := logging.New(&buf, logging.FormatJSON, "info")
	must(t, err)
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w1", Now: f.clock, Logger: log}, f.store, memConn{f.broker.Connect("w1")}, f.reg)
	must(t, err)
	s := w.Steps(nil)
	must(t, s.Subscribe(context.Background()))
	s.Heartbeat(context.Background())

	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	must(t, f.broker.Connect("poison").Publish(context.Background(), queues.ControlQueue("h", 0),
		queues.Message{ID: "garbage", Kind: "EventRaised", InstanceID: "order-7", Body: []byte("{not json"),
			TraceParent: "00-" + traceID + "-" + spanID + "-01"}))
	f.run(s)
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %v\n%s", err, line)
		}
		if m["msg"] != "message dead-lettered" {
			continue
		}
		if m["instance_id"] != "order-7" || m["trace_id"] != traceID || m["span_id"] != spanID || m["reason"] != deadUndecodable {
			t.Fatalf("dead-letter line %s, want instance_id, trace_id, span_id and the reason", line)
		}
		return
	}
	t.Fatalf("no line about the dead-lettered message:\n%s", buf.String())
}
