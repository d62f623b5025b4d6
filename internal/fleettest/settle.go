package fleettest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warrenhq/warren/api"
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
		if f.settled() {
			steady++
		} else {
			steady = 0
		}
		return steady >= 2
	})
}

// settled reports whether the workers' owned counts match the assignment's.
func (f *Fleet) settled() bool {
	resp, err := http.Get(f.URL + "/v1/workers")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var ws api.WorkersResponse
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&ws) != nil {
		return false
	}
	var assigned, owned []int
	for _, w := range ws.Workers {
		assigned = append(assigned, len(w.Partitions))
	}
	for _, p := range f.Workers() {
		n, err := ownedPartitions(p.EndpointsURL)
		if err != nil {
			return false
		}
		owned = append(owned, n)
	}
	slices.Sort(assigned)
	slices.Sort(owned)
	return len(owned) > 0 && slices.Equal(assigned, owned)
}

// ownedPartitions reads warren_worker_partitions_owned from a worker's /metrics.
func ownedPartitions(base string) (int, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s/metrics: %s", base, resp.Status)
	}
	return ownedFrom(bufio.NewScanner(resp.Body))
}

// ownedFrom finds the partitions-owned gauge in Prometheus text.
func ownedFrom(sc *bufio.Scanner) (int, error) {
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == "warren_worker_partitions_owned" {
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			return int(v), err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no warren_worker_partitions_owned in the metrics")
}
