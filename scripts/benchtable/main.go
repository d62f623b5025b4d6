// Command benchtable prints the benchmark suite's results as Markdown tables: Warren's
// scenarios (the JSON files scripts/bench-suite.sh leaves, one per scenario, as `client
// bench --json-file` writes them) and, given the go-workflows peer's result lines, each
// figure beside the peer's with the ratio.
//
//	go run ./scripts/benchtable --warren .services/bench-suite [--peer gwf-results.jsonl]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// warrenResult is the part of `client bench`'s JSON this program reads.
type warrenResult struct {
	Count     int     `json:"count"`
	Completed int     `json:"completed"`
	PerSecond float64 `json:"perSecond"`
	// PerSecondWritten is the rate counted until the store showed every instance ended
	// (ReadModelSeconds after the last end was heard); 0 in results from before it was kept.
	PerSecondWritten float64 `json:"perSecondWritten"`
	ReadModelSeconds float64 `json:"readModelSeconds"`
	LatencyP50Ms     float64 `json:"latencyP50Ms"`
	LatencyP99Ms     float64 `json:"latencyP99Ms"`
	LatencyMaxMs     float64 `json:"latencyMaxMs"`
	CPU              *struct {
		Skipped                   string  `json:"skipped"`
		ServingMsPerOrchestration float64 `json:"servingMsPerOrchestration"`
		OtherCores                float64 `json:"otherCores"`
		Groups                    []struct {
			Name               string  `json:"name"`
			MsPerOrchestration float64 `json:"msPerOrchestration"`
		} `json:"groups"`
	} `json:"cpu"`
	StoreOps *struct {
		Skipped          string `json:"skipped"`
		PerOrchestration []struct {
			Kind  string  `json:"kind"`
			Calls float64 `json:"calls"`
			Docs  float64 `json:"docs"`
		} `json:"perOrchestration"`
	} `json:"storeOps"`
}

// peerResult is one line of the go-workflows benchmark's output (its main.go's result).
type peerResult struct {
	Scenario   string         `json:"scenario"`
	Backend    string         `json:"backend"`
	Params     map[string]any `json:"params"`
	WallS      float64        `json:"wall_s"`
	WfPerS     float64        `json:"wf_per_s"`
	P50Ms      float64        `json:"p50_ms"`
	P99Ms      float64        `json:"p99_ms"`
	OwnCPUS    float64        `json:"own_cpu_s"`
	RedisCPUS  float64        `json:"redis_cpu_s"`
	OtherCores float64        `json:"other_cores"`
}

// orchestrations is how many top-level workflows a peer run measured.
func (p peerResult) orchestrations() float64 {
	for _, k := range []string{"n", "iters"} {
		if v, ok := p.Params[k].(float64); ok && v > 0 {
			return v
		}
	}
	return 1
}

func (p peerResult) cpuMsPerOrchestration() float64 {
	return 1000 * (p.OwnCPUS + p.RedisCPUS) / p.orchestrations()
}

func main() {
	warrenDir := flag.String("warren", "", "folder of Warren's results (<scenario>.json)")
	peerFile := flag.String("peer", "", "the go-workflows peer's result lines (JSONL), optional")
	flag.Parse()
	if *warrenDir == "" {
		fmt.Fprintln(os.Stderr, "benchtable: --warren is required")
		os.Exit(2)
	}
	w, err := readWarren(*warrenDir)
	if err == nil && len(w) == 0 {
		err = fmt.Errorf("no results in %s", *warrenDir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	printWarren(os.Stdout, w)
	if *peerFile != "" {
		p, err := readPeer(*peerFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(1)
		}
		fmt.Println()
		printComparison(os.Stdout, w, p)
	}
}

func readWarren(dir string) (map[string]warrenResult, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]warrenResult{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r warrenResult
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = r
	}
	return out, nil
}

// readPeer keeps the last line of each scenario.
func readPeer(path string) (map[string]peerResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]peerResult{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r peerResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[r.Scenario] = r
	}
	return out, sc.Err()
}

// scenarios in the order the suite runs them, with what each is.
var scenarios = []struct{ key, what string }{
	{"hello", "hello throughput, 1,000 × HelloSequence, 100 in flight"},
	{"hello-10k-load", "loading 10,000 × HelloSequence (not a measurement of its own)"},
	{"hello-10k", "hello throughput with 10,000 ended instances in the store"},
	{"latency", "one HelloSequence at a time, 200 in a row"},
	{"fanout", "one fan-out of 1,000 activities"},
	{"subs", "100 sub-orchestrations × 3 activities"},
}

func printWarren(w io.Writer, rs map[string]warrenResult) {
	fmt.Fprintln(w, "| scenario | done | orch/s | documents written after (s) | orch/s with documents | p50 ms | p99 ms | CPU ms/orch | PostgreSQL | FerretDB | RabbitMQ | workers | dispatcher | client | other cores | store round trips/orch ins/find/upd/del/other | docs/orch ins/find/upd/del/other |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range scenarios {
		r, ok := rs[s.key]
		if !ok {
			continue
		}
		cpu := []string{"-", "-", "-", "-", "-", "-", "-", "-"}
		if c := r.CPU; c != nil && c.Skipped == "" {
			by := map[string]float64{}
			for _, g := range c.Groups {
				name, _, _ := strings.Cut(g.Name, " ") // every "worker PID" together
				by[name] += g.MsPerOrchestration
			}
			cpu = []string{f(c.ServingMsPerOrchestration), f(by["postgresql"]), f(by["ferretdb"]), f(by["rabbitmq"]),
				f(by["worker"]), f(by["dispatcher"]), f(by["client"]), fmt.Sprintf("%.2f", c.OtherCores)}
		}
		calls, docs := "-", "-"
		if o := r.StoreOps; o != nil && o.Skipped == "" {
			var cs, ds []string
			for _, k := range o.PerOrchestration {
				cs, ds = append(cs, f(k.Calls)), append(ds, f(k.Docs))
			}
			calls, docs = strings.Join(cs, " / "), strings.Join(ds, " / ")
		}
		fmt.Fprintf(w, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s |\n", s.key, r.Completed, r.Count, f(r.PerSecond),
			f(r.ReadModelSeconds), f(r.PerSecondWritten), f(r.LatencyP50Ms), f(r.LatencyP99Ms), strings.Join(cpu, " | "), calls, docs)
	}
}

func printComparison(w io.Writer, rs map[string]warrenResult, ps map[string]peerResult) {
	fmt.Fprintln(w, "| scenario | Warren | go-workflows | Warren ÷ go-workflows | CPU ms/orch Warren | CPU ms/orch go-workflows | other cores Warren / go-workflows |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	row := func(what, wkey, pkey string, wv func(warrenResult) float64, pv func(peerResult) float64) {
		r, okW := rs[wkey]
		p, okP := ps[pkey]
		if !okW && !okP {
			return
		}
		cells := []string{"-", "-", "-", "-", "-", "-"}
		if okW {
			cells[0] = f(wv(r))
			if c := r.CPU; c != nil && c.Skipped == "" {
				cells[3] = f(c.ServingMsPerOrchestration)
			}
		}
		if okP {
			cells[1] = f(pv(p))
			cells[4] = f(p.cpuMsPerOrchestration())
		}
		if okW && okP && pv(p) > 0 {
			cells[2] = fmt.Sprintf("%.2f", wv(r)/pv(p))
		}
		wo, po := "-", "-"
		if okW && r.CPU != nil && r.CPU.Skipped == "" {
			wo = fmt.Sprintf("%.2f", r.CPU.OtherCores)
		}
		if okP {
			po = fmt.Sprintf("%.2f", p.OtherCores)
		}
		cells[5] = wo + " / " + po
		fmt.Fprintf(w, "| %s | %s |\n", what, strings.Join(cells, " | "))
	}
	// The rate with the documents written: the peer's instances are ended when its store
	// says so, which is what a Warren run's documents say.
	perSec := func(r warrenResult) float64 {
		if r.PerSecondWritten > 0 {
			return r.PerSecondWritten
		}
		return r.PerSecond
	}
	p50 := func(r warrenResult) float64 { return r.LatencyP50Ms }
	p99 := func(r warrenResult) float64 { return r.LatencyP99Ms }
	secs := func(r warrenResult) float64 { return r.LatencyMaxMs / 1000 }
	row("hello throughput (orch/s; higher is better)", "hello", "hello", perSec, func(p peerResult) float64 { return p.WfPerS })
	row("hello throughput, 10,000 in the store (orch/s; peer on a fresh store)", "hello-10k", "hello", perSec, func(p peerResult) float64 { return p.WfPerS })
	row("idle latency p50 (ms; lower is better)", "latency", "latency", p50, func(p peerResult) float64 { return p.P50Ms })
	row("idle latency p99 (ms; lower is better)", "latency", "latency", p99, func(p peerResult) float64 { return p.P99Ms })
	row("fan-out of 1,000 activities (s; lower is better)", "fanout", "fanout", secs, func(p peerResult) float64 { return p.WallS })
	row("100 sub-orchestrations × 3 activities (s; lower is better)", "subs", "subwf", secs, func(p peerResult) float64 { return p.WallS })
}

// f prints a figure with 3 significant digits, or whole above 100.
func f(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}
