package dispatcher

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/rendezvous"
)

// knownOrchestrators caches the names live workers have registered, so that a start of a
// known orchestrator costs no store read; a name that is not in the cache is looked up
// again before it is refused (a worker may just have joined).
type knownOrchestrators struct {
	store  history.Store
	maxAge time.Duration

	mu    sync.Mutex
	names map[string]bool
	at    time.Time
}

// cacheFor is how long a positive answer is trusted: about one heartbeat.
const cacheFor = time.Second

func (k *knownOrchestrators) has(ctx context.Context, name string) (ok bool, known []string, err error) {
	k.mu.Lock()
	if k.names[name] && time.Since(k.at) < cacheFor {
		k.mu.Unlock()
		return true, nil, nil
	}
	k.mu.Unlock()
	live, err := k.store.LiveWorkers(ctx, k.maxAge)
	if err != nil {
		return false, nil, err
	}
	names := map[string]bool{}
	for _, w := range live {
		for _, n := range w.Orchestrators {
			names[n] = true
		}
	}
	k.mu.Lock()
	k.names, k.at = names, time.Now()
	k.mu.Unlock()
	if names[name] {
		return true, nil, nil
	}
	for n := range names {
		known = append(known, n)
	}
	sort.Strings(known)
	return false, known, nil
}

// checkOrchestrator refuses a start of an orchestrator that no live worker has registered.
func (d *Dispatcher) checkOrchestrator(r *http.Request, name string) *apiError {
	ctx, cancel := d.opContext(r)
	defer cancel()
	ok, known, err := d.known.has(ctx, name)
	if err != nil {
		return d.unavailable(r, "reading the live workers", err)
	}
	if ok {
		return nil
	}
	msg := fmt.Sprintf("orchestrator %q is not registered on any live worker", name)
	if len(known) == 0 {
		msg += " (no worker is live; start one)"
	} else {
		msg += " (registered: " + strings.Join(known, ", ") + ")"
	}
	ae := errorf(http.StatusUnprocessableEntity, api.CodeUnknownOrchestrator, msg)
	ae.body.Known = known
	if ae.body.Known == nil {
		ae.body.Known = []string{}
	}
	return ae
}

// workers lists the live workers with the partitions each owns; the worker computes its
// ownership with the same rendezvous function, so the answer is theirs too (up to one
// heartbeat of lag).
func (d *Dispatcher) workers(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := d.opContext(r)
	defer cancel()
	live, err := d.store.LiveWorkers(ctx, d.cfg.WorkerMaxAge)
	if err != nil {
		return d.unavailable(r, "reading the live workers", err)
	}
	ids := make([]string, len(live))
	for i, l := range live {
		ids[i] = l.WorkerID
	}
	owned := rendezvous.Assign(d.cfg.Partitions, ids)
	resp := api.WorkersResponse{Partitions: d.cfg.Partitions, Workers: make([]api.Worker, 0, len(live))}
	for _, l := range live {
		resp.Workers = append(resp.Workers, api.Worker{
			WorkerID:            l.WorkerID,
			Host:                l.Host,
			Orchestrators:       nonNil(l.Orchestrators),
			Activities:          nonNil(l.Activities),
			HeartbeatAt:         l.HeartbeatAt,
			StartedAt:           l.StartedAt,
			Partitions:          owned[l.WorkerID],
			ActivityConcurrency: l.ActivityConcurrency,
			StoreOps:            l.StoreOps,
		})
	}
	sort.Slice(resp.Workers, func(i, j int) bool { return resp.Workers[i].WorkerID < resp.Workers[j].WorkerID })
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
