package scrape

import (
	"strings"
	"testing"
)

func TestValueSumsMatchingSeries(t *testing.T) {
	s, err := Parse(strings.NewReader(`# TYPE jobs_total counter
jobs_total{kind="a",code="200"} 3
jobs_total{kind="a",code="500"} 1
jobs_total{kind="b",code="200"} 5
# TYPE wait_seconds histogram
wait_seconds_bucket{le="1"} 2
wait_seconds_bucket{le="+Inf"} 3
wait_seconds_sum 2.5
wait_seconds_count 3
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"jobs_total", nil, 9},
		{"jobs_total", []string{"kind", "a"}, 4},
		{"jobs_total", []string{"kind", "a", "code", "200"}, 3},
		{"jobs_total", []string{"kind", "c"}, 0},
		{"wait_seconds_count", nil, 3},
		{"wait_seconds_bucket", []string{"le", "1"}, 2},
	} {
		if got := s.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if !s.Has("wait_seconds_sum") || s.Has("nothing") {
		t.Error("Has")
	}
	if _, err := Parse(strings.NewReader("not { a metric")); err == nil {
		t.Error("a malformed scrape parsed")
	}
}
