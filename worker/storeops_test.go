package worker

import (
	"context"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
)

// A worker on a store that counts its commands reports the counts in its heartbeat, and
// they grow from one heartbeat to the next (each heartbeat is an update).
func TestHeartbeatCarriesStoreOps(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Noop", func(ctx *durable.OrchestrationContext, _ any) (int, error) { return 0, nil }))
	rg := startRig(t, r)
	var first *history.OpCounts
	rg.waitFor("a heartbeat with store counts, then a later one with more updates", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		live, err := rg.store.LiveWorkers(ctx, time.Minute)
		if err != nil || len(live) != 1 || live[0].StoreOps == nil {
			return false
		}
		if first == nil {
			first = live[0].StoreOps
			return false
		}
		return live[0].StoreOps.Update.Calls > first.Update.Calls
	})
}
