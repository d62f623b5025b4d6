package deploy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// metricFiles are the files that define the binaries' metrics (one per package).
var metricFiles = []string{"../worker/metrics.go", "../worker/depth.go", "../dispatcher/metrics.go"}

// exported reads the metric names the binaries define: every string literal that is a
// warren_ metric name in the metric files, and, for each histogram (a name given in a
// HistogramOpts), its _bucket, _sum and _count series.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	name := regexp.MustCompile(`^warren_[a-z_]+$`)
	out := map[string]bool{}
	for _, f := range metricFiles {
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && name.MatchString(s) {
					out[s] = true
				}
			case *ast.CompositeLit:
				sel, ok := n.Type.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "HistogramOpts" {
					return true
				}
				for _, e := range n.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if id, isID := kv.Key.(*ast.Ident); ok && isID && id.Name == "Name" {
						if lit, ok := kv.Value.(*ast.BasicLit); ok {
							s, _ := strconv.Unquote(lit.Value)
							for _, suffix := range []string{"_bucket", "_sum", "_count"} {
								out[s+suffix] = true
							}
						}
					}
				}
			}
			return true
		})
	}
	for _, want := range []string{"warren_worker_episodes_total", "warren_worker_activity_duration_seconds_bucket", "warren_dispatcher_http_requests_total"} {
		if !out[want] {
			t.Fatalf("reading the metric files found no %s: %v", want, keys(out))
		}
	}
	return out
}

// Every query of the dashboard names metrics the binaries export, and the dashboard shows
// what an operator watches.
func TestGrafanaQueriesNameExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("grafana", "warren.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana/warren.json: %v", err)
	}
	have := exported(t)
	metric := regexp.MustCompile(`\b(warren_[a-z_]+)\b`)
	var titles []string
	used := 0
	for _, p := range dash.Panels {
		titles = append(titles, strings.ToLower(p.Title))
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			names := metric.FindAllString(q.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no Warren metric", p.Title, q.Expr)
			}
			for _, n := range names {
				used++
				if !have[n] {
					t.Errorf("panel %q: %s is not a metric the binaries export (query %q)", p.Title, n, q.Expr)
				}
			}
		}
	}
	all := strings.Join(titles, " | ")
	for _, want := range []string{"throughput", "episode latency", "activity latency", "retries", "dead letters", "partitions per worker", "queue depth"} {
		if !strings.Contains(all, want) {
			t.Errorf("no panel about %s (panels: %s)", want, all)
		}
	}
	if used == 0 {
		t.Fatal("the dashboard queries nothing")
	}
}
