package fleettest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/internal/scrape"
)

// WaitSettled waits until the partitions have stopped moving: every worker consumes as
// many control-queue partitions as the dispatcher's rendezvous assignment gives it
// (GET /v1/workers beside each worker's warren_worker_partitions_owned), twice in a row.
// A fleet just started moves partitions for a second or two after its workers have
// joined (the first takes them all, then hands the others theirs); a benchmark that
// starts then measures that move, not the steady state. It needs Options.Endpoints.
func (f *Fleet) WaitSettled(ctx context.Context, timeout time.Duration) error {
	if !f.endpoints {
		return errors.New("fleettest: WaitSettled needs Options.Endpoints")
	}
	steady := 0
	return poll(ctx, timeout, "the partitions to settle", func() bool {
		if f.settled(ctx) {
			steady++
		} else {
			steady = 0
		}
		return steady >= 2
	})
}

// settleAsk bounds each request of a settle check: a process that does not answer is
// asked again at the next poll, not waited for.
const settleAsk = 2 * time.Second

// settled reports whether the workers' owned counts match the assignment's.
func (f *Fleet) settled(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, settleAsk)
	defer cancel()
	assigned, err := f.assignedCounts(ctx)
	if err != nil {
		return false
	}
	var owned []int
	for _, p := range f.Workers() {
		n, err := ownedPartitions(ctx, p.EndpointsURL)
		if err != nil {
			return false
		}
		owned = append(owned, n)
	}
	slices.Sort(assigned)
	slices.Sort(owned)
	return len(owned) > 0 && slices.Equal(assigned, owned)
}

// assignedCounts is how many partitions the dispatcher assigns each live worker.
func (f *Fleet) assignedCounts(ctx context.Context) ([]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL+"/v1/workers", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/workers: %s", resp.Status)
	}
	var ws api.WorkersResponse
	if err := json.NewDecoder(resp.Body).Decode(&ws); err != nil {
		return nil, err
	}
	counts := make([]int, 0, len(ws.Workers))
	for _, w := range ws.Workers {
		counts = append(counts, len(w.Partitions))
	}
	return counts, nil
}

// ownedPartitions reads warren_worker_partitions_owned from a worker's /metrics.
func ownedPartitions(ctx context.Context, base string) (int, error) {
	s, err := scrape.Fetch(ctx, base+"/metrics", "")
	if err != nil {
		return 0, err
	}
	const gauge = "warren_worker_partitions_owned"
	if !s.Has(gauge) {
		return 0, fmt.Errorf("%s/metrics has no %s", base, gauge)
	}
	return int(s.Value(gauge)), nil
}
