package mongo

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// benchEpisode is a typical middle-of-the-run episode: an activity result comes in, the
// orchestrator schedules the next activity.
func benchEpisode(instanceID string, number int64) *history.Episode {
	now := time.Now().UTC()
	trace := &history.TraceContext{TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	body := []byte(`{"instanceId":"` + instanceID + `","executionId":"e1","orchestrationName":"DeviceProvisioningOrchestration",` +
		`"taskId":2,"name":"SendPackageUrlToDevice","input":["device-42","https://example.com/pkg?sig=abcdef0123456789"],"attempt":1}`)
	return &history.Episode{
		InstanceID: instanceID, ExecutionID: "e1", Number: number,
		Events: []history.Event{
			{Version: 1, Kind: history.OrchestratorStarted, Timestamp: now},
			{Version: 1, Kind: history.TaskCompleted, Timestamp: now, TaskID: 1,
				Result: json.RawMessage(`"https://example.com/pkg?sig=abcdef0123456789"`), MessageID: instanceID + "/1/result"},
			{Version: 1, Kind: history.TaskScheduled, Timestamp: now, TaskID: 2, Name: "SendPackageUrlToDevice",
				Input: json.RawMessage(`["device-42","https://example.com/pkg?sig=abcdef0123456789"]`), Attempt: 1, Trace: trace},
		},
		Outbox:      []history.OutboxMessage{{ID: instanceID + "/2/1", Kind: history.MessageKindActivity, InstanceID: instanceID, Body: body, Trace: trace}},
		Consumed:    []string{instanceID + "/1/result"},
		CommittedAt: now,
	}
}

// BenchmarkCommitEpisode commits one episode per round trip, as a worker that handles one
// instance at a time would.
func BenchmarkCommitEpisode(b *testing.B) {
	s := openTestStore(b)
	ctx := testContext(b)
	b.ResetTimer()
	for i := range b.N {
		ep := benchEpisode(fmt.Sprintf("one-%d", i), 1)
		if err := s.CommitEpisodes(ctx, []*history.Episode{ep})[0]; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "episodes/s")
}

// BenchmarkCommitEpisodesBatched commits the episodes of many instances in one insertMany,
// as a worker does with a batch taken from a partition queue.
func BenchmarkCommitEpisodesBatched(b *testing.B) {
	for _, size := range []int{10, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := openTestStore(b)
			ctx := testContext(b)
			b.ResetTimer()
			for i := range b.N {
				batch := make([]*history.Episode, size)
				for j := range batch {
					batch[j] = benchEpisode(fmt.Sprintf("batch-%d-%d", i, j), 1)
				}
				for _, err := range s.CommitEpisodes(ctx, batch) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "episodes/s")
		})
	}
}

// BenchmarkCommitEpisodeParallel commits one episode per round trip from several goroutines,
// as several partitions of one worker would without batching.
func BenchmarkCommitEpisodeParallel(b *testing.B) {
	s := openTestStore(b)
	ctx := testContext(b)
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			if err := s.CommitEpisodes(ctx, []*history.Episode{benchEpisode(fmt.Sprintf("par-%d", n), 1)})[0]; err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "episodes/s")
}

// BenchmarkLoadHistory loads a 20-episode history from a hub holding 100 such histories:
// the cost of a cache miss in the worker.
func BenchmarkLoadHistory(b *testing.B) {
	s := openTestStore(b)
	ctx := testContext(b)
	const instances, episodes = 100, 20
	for n := int64(1); n <= episodes; n++ {
		batch := make([]*history.Episode, instances)
		for j := range batch {
			batch[j] = benchEpisode(fmt.Sprintf("load-%d", j), n)
		}
		for _, err := range s.CommitEpisodes(ctx, batch) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for i := range b.N {
		eps, err := s.LoadHistory(ctx, fmt.Sprintf("load-%d", i%instances), "e1")
		if err != nil || len(eps) != episodes {
			b.Fatalf("loaded %d episodes, %v", len(eps), err)
		}
	}
}
