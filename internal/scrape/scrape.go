// Package scrape reads Prometheus metrics the way a test wants them: fetched from a
// /metrics endpoint, flattened into samples (a histogram becomes its _bucket, _sum and
// _count series), and summed over the series that match some labels.
//
//	s, err := scrape.Fetch(ctx, "http://127.0.0.1:9090/metrics", "")
//	done := s.Value("warren_worker_activities_total", "outcome", "completed")
package scrape

import (
	"context"
	"fmt"
	"io"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples are the samples of one scrape.
type Samples model.Vector

// Parse reads metrics in the Prometheus text format.
func Parse(r io.Reader) (Samples, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	list := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		list = append(list, f)
	}
	v, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, list...)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	return Samples(v), nil
}

// Fetch scrapes url (with the bearer token, when not empty) and parses the answer.
func Fetch(ctx context.Context, url, token string) (Samples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	req.Header.Set("Accept", "text/plain")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("scrape: GET %s: %s: %s", url, resp.Status, b)
	}
	return Parse(resp.Body)
}

// Value sums the samples named name whose labels have the given values (pairs of label
// name and value); 0 when none match.
func (s Samples) Value(name string, labels ...string) float64 {
	if len(labels)%2 != 0 {
		panic("scrape: Value wants label name and value pairs")
	}
	sum := 0.0
	for _, x := range s {
		if string(x.Metric[model.MetricNameLabel]) != name || !matches(x.Metric, labels) {
			continue
		}
		sum += float64(x.Value)
	}
	return sum
}

// Has reports whether a sample named name is present.
func (s Samples) Has(name string) bool {
	for _, x := range s {
		if string(x.Metric[model.MetricNameLabel]) == name {
			return true
		}
	}
	return false
}

func matches(m model.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		if string(m[model.LabelName(labels[i])]) != labels[i+1] {
			return false
		}
	}
	return true
}
