package mongo

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
)

func reply(t *testing.T, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each command lands in its kind, with the documents its reply says it carried or touched.
func TestOpCountersByKind(t *testing.T) {
	batch := func(field string, n int) bson.D {
		docs := make(bson.A, n)
		for i := range docs {
			docs[i] = bson.D{{Key: "_id", Value: i}}
		}
		return bson.D{{Key: "cursor", Value: bson.D{{Key: field, Value: docs}, {Key: "id", Value: int64(0)}}}, {Key: "ok", Value: 1.0}}
	}
	for _, tc := range []struct {
		command string
		reply   bson.D
		want    history.OpCounts
	}{
		{"insert", bson.D{{Key: "n", Value: int32(25)}, {Key: "ok", Value: 1.0}}, history.OpCounts{Insert: history.OpCount{Calls: 1, Docs: 25}}},
		{"find", batch("firstBatch", 3), history.OpCounts{Find: history.OpCount{Calls: 1, Docs: 3}}},
		{"getMore", batch("nextBatch", 101), history.OpCounts{Find: history.OpCount{Calls: 1, Docs: 101}}},
		{"update", bson.D{{Key: "n", Value: int32(1)}, {Key: "nModified", Value: int32(1)}}, history.OpCounts{Update: history.OpCount{Calls: 1, Docs: 1}}},
		{"findAndModify", bson.D{{Key: "lastErrorObject", Value: bson.D{{Key: "n", Value: int32(1)}}}, {Key: "value", Value: nil}}, history.OpCounts{Update: history.OpCount{Calls: 1, Docs: 1}}},
		{"delete", bson.D{{Key: "n", Value: int64(7)}}, history.OpCounts{Delete: history.OpCount{Calls: 1, Docs: 7}}},
		{"aggregate", batch("firstBatch", 2), history.OpCounts{Other: history.OpCount{Calls: 1, Docs: 2}}},
		{"count", bson.D{{Key: "n", Value: 4.0}}, history.OpCounts{Other: history.OpCount{Calls: 1, Docs: 4}}},
		{"hello", bson.D{{Key: "localTime", Value: time.Now()}}, history.OpCounts{Other: history.OpCount{Calls: 1}}},
		// A reply without the expected fields counts the round trip only.
		{"find", bson.D{{Key: "ok", Value: 0.0}}, history.OpCounts{Find: history.OpCount{Calls: 1}}},
	} {
		t.Run(tc.command, func(t *testing.T) {
			var c opCounters
			c.started(tc.command)
			c.succeeded(tc.command, reply(t, tc.reply))
			if got := c.snapshot(); got != tc.want {
				t.Errorf("%s: got %+v, want %+v", tc.command, got, tc.want)
			}
		})
	}
}

// A failed command (no reply) still counts as a round trip.
func TestOpCountersCountFailedRoundTrips(t *testing.T) {
	var c opCounters
	c.started("update")
	if got := c.snapshot().Update; got != (history.OpCount{Calls: 1}) {
		t.Errorf("got %+v", got)
	}
}

// On the real server: the counts of a known sequence of store calls, as deltas.
func TestStoreOpsCountsCommands(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	before := s.Ops()
	now := time.Now().UTC()
	for i := range 3 {
		id := fmt.Sprintf("ops-%d", i)
		err := s.CreateInstance(ctx, &history.Instance{InstanceID: id, Name: "N", ExecutionID: "e-" + id,
			Status: history.StatusPending, CreatedAt: now, LastUpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GetInstance(ctx, "ops-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx, history.WorkerInfo{WorkerID: "w-ops", StartedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveWorker(ctx, "w-ops"); err != nil {
		t.Fatal(err)
	}
	got := s.Ops().Sub(before)
	want := history.OpCounts{
		Insert: history.OpCount{Calls: 3, Docs: 3},
		Find:   history.OpCount{Calls: 1, Docs: 1},
		Update: history.OpCount{Calls: 1, Docs: 1}, // the heartbeat's upsert
		Delete: history.OpCount{Calls: 1, Docs: 1},
	}
	if got != want {
		t.Errorf("ops between the snapshots: got %+v, want %+v", got, want)
	}
}

// A heartbeat keeps the worker's counts, and LiveWorkers returns them.
func TestHeartbeatKeepsStoreOps(t *testing.T) {
	s := openTestStore(t)
	ctx := testContext(t)
	ops := history.OpCounts{Insert: history.OpCount{Calls: 7, Docs: 70}, Update: history.OpCount{Calls: 1, Docs: 1}}
	if err := s.Heartbeat(ctx, history.WorkerInfo{WorkerID: "w-ops", StoreOps: &ops}); err != nil {
		t.Fatal(err)
	}
	live, err := s.LiveWorkers(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].StoreOps == nil || *live[0].StoreOps != ops {
		t.Fatalf("live workers %+v, want one with store ops %+v", live, ops)
	}
	// A later heartbeat without counts clears them.
	if err := s.Heartbeat(ctx, history.WorkerInfo{WorkerID: "w-ops"}); err != nil {
		t.Fatal(err)
	}
	if live, err = s.LiveWorkers(ctx, time.Minute); err != nil || len(live) != 1 || live[0].StoreOps != nil {
		t.Fatalf("after a heartbeat without counts: %+v, %v", live, err)
	}
}
