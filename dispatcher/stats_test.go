package dispatcher

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

// countingStore is a store double that counts its commands, as history/mongo's does.
type countingStore struct {
	*memStore
	ops history.OpCounts
}

func (s countingStore) Ops() history.OpCounts { return s.ops }

func TestStats(t *testing.T) {
	ops := history.OpCounts{Insert: history.OpCount{Calls: 3, Docs: 30}}
	store := countingStore{memStore: newMemStore("Hello"), ops: ops}
	d, err := New(Config{Partitions: 4, Hub: "h1", Logger: discardLogger()}, store, newFakeBroker())
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, d: d, store: store.memStore}
	a := r.do("GET", "/v1/stats", "")
	var s api.Stats
	if err := json.Unmarshal(a.body, &s); err != nil || a.code != 200 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	if s.Hub != "h1" || s.PID != os.Getpid() || s.StartedAt.IsZero() || s.StartedAt.After(time.Now()) ||
		s.StoreOps == nil || *s.StoreOps != ops {
		t.Fatalf("stats %s", a.body)
	}

	// The workers' counts pass through /v1/workers.
	r.store.workers = []history.WorkerInfo{{WorkerID: "w", HeartbeatAt: time.Now(), StoreOps: &ops}}
	var wr api.WorkersResponse
	if a := r.do("GET", "/v1/workers", ""); json.Unmarshal(a.body, &wr) != nil || len(wr.Workers) != 1 ||
		wr.Workers[0].StoreOps == nil || *wr.Workers[0].StoreOps != ops {
		t.Fatalf("workers %d %s", a.code, a.body)
	}
}

// A store that does not count leaves the counts out, and the rest is still there.
func TestStatsWithoutCounts(t *testing.T) {
	r := newRig(t, Config{})
	a := r.do("GET", "/v1/stats", "")
	var s api.Stats
	if err := json.Unmarshal(a.body, &s); err != nil || a.code != 200 || s.StoreOps != nil || s.PID == 0 {
		t.Fatalf("%d %s", a.code, a.body)
	}
	if a := r.do("POST", "/v1/stats", ""); a.code != 405 {
		t.Fatalf("POST /v1/stats: %d %s", a.code, a.body)
	}
}
