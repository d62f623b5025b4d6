package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTables(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hello.json", `{"count":1000,"completed":1000,"perSecond":160,"perSecondWritten":150,"readModelSeconds":0.42,"latencyP50Ms":400,"latencyP99Ms":900,
		"cpu":{"servingMsPerOrchestration":12,"otherCores":0.1,"groups":[{"name":"postgresql","msPerOrchestration":4},
		{"name":"worker 1","msPerOrchestration":1},{"name":"worker 2","msPerOrchestration":1.5}]},
		"storeOps":{"perOrchestration":[{"kind":"insert","calls":2,"docs":7},{"kind":"find","calls":0.5,"docs":0.5}]}}`)
	write("latency.json", `{"count":200,"completed":200,"latencyP50Ms":40,"latencyP99Ms":90,"cpu":{"skipped":"no /proc"}}`)
	write("peer.jsonl", `{"scenario":"hello","params":{"n":2000},"wf_per_s":300,"own_cpu_s":8,"redis_cpu_s":2,"other_cores":0.05}
not json, a log line
{"scenario":"latency","params":{"iters":200},"p50_ms":4,"p99_ms":9,"own_cpu_s":1,"redis_cpu_s":0}
`)
	ws, err := readWarren(dir)
	if err != nil || len(ws) != 2 {
		t.Fatalf("%v %v", ws, err)
	}
	ps, err := readPeer(filepath.Join(dir, "peer.jsonl"))
	if err != nil || len(ps) != 2 {
		t.Fatalf("%v %v", ps, err)
	}
	var out bytes.Buffer
	printWarren(&out, ws)
	printComparison(&out, ws, ps)
	for _, want := range []string{
		"| hello | 1000/1000 | 160 | 0.42 | 150 | 400 | 900 | 12.0 | 4.00 | 0.00 | 0.00 | 2.50 |", // workers summed
		"| 2.00 / 0.50 | 7.00 / 0.50 |",
		"| latency | 200/200 | 0.00 | 0.00 | 0.00 | 40.0 | 90.0 | - |",
		"| hello throughput (orch/s; higher is better) | 150 | 300 | 0.50 | 12.0 | 5.00 | 0.10 / 0.05 |",
		"| idle latency p50 (ms; lower is better) | 40.0 | 4.00 | 10.00 | - | 5.00 | - / 0.00 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "fan-out") {
		t.Errorf("a scenario neither side ran is listed:\n%s", out.String())
	}
}
