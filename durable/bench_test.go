package durable_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/examples/fanout"
	"github.com/warrenhq/warren/history"
)

// sequentialHistory is the history of an orchestrator that calls activity "Step" calls
// times one after another: three events per episode (OrchestratorStarted, the previous
// step's TaskCompleted, the next TaskScheduled), about 3×calls events in all. The last
// step's result is returned apart, as the incoming event.
func sequentialHistory(calls int) (past []history.Event, last history.Event) {
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := func(kind history.Kind, f func(*history.Event)) history.Event {
		ev := history.Event{Version: history.BaseVersion, Kind: kind, Timestamp: ts}
		f(&ev)
		return ev
	}
	past = append(past,
		e(history.OrchestratorStarted, func(*history.Event) {}),
		e(history.ExecutionStarted, func(ev *history.Event) {
			ev.Name, ev.ExecutionID, ev.Input = "Steps", "x", json.RawMessage(strconv.Itoa(calls+1))
		}))
	for i := 1; i <= calls; i++ {
		id := int64(i)
		past = append(past, e(history.TaskScheduled, func(ev *history.Event) {
			ev.TaskID, ev.Name, ev.Input, ev.Attempt = id, "Step", json.RawMessage(strconv.Itoa(i)), 1
		}))
		done := e(history.TaskCompleted, func(ev *history.Event) { ev.TaskID, ev.Result = id, json.RawMessage(strconv.Itoa(i*i)) })
		if i == calls {
			return past, done
		}
		ts = ts.Add(time.Second)
		past = append(past, e(history.OrchestratorStarted, func(*history.Event) {}), done)
	}
	return past, history.Event{}
}

func stepsRegistry(b testing.TB) *durable.Registry {
	r := durable.NewRegistry()
	err := durable.AddOrchestrator(r, "Steps", func(ctx *durable.OrchestrationContext, n int) (int, error) {
		sum := 0
		for i := 1; i <= n; i++ {
			var sq int
			if err := ctx.CallActivity("Step", i).Await(&sq); err != nil {
				return 0, err
			}
			sum += sq
		}
		return sum, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkReplay10kEvents replays a 10,000-event history and applies one new result.
// Target: under 20 ms and under 2 KB allocated per event.
func BenchmarkReplay10kEvents(b *testing.B) {
	past, last := sequentialHistory(3333) // 3×3333 = 9,999 past events + 1 incoming
	events := len(past) + 1
	exec := durable.NewExecutor(stepsRegistry(b))
	now := last.Timestamp.Add(time.Second)
	incoming := []history.Event{last}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := exec.Execute("bench", past, incoming, now)
		if err != nil || res.Status != history.StatusRunning || len(res.Actions) != 1 {
			b.Fatalf("%v %+v", err, res)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
}

func TestSequentialHistoryReplays(t *testing.T) {
	past, last := sequentialHistory(50)
	res, err := durable.NewExecutor(stepsRegistry(t)).Execute("bench", past, []history.Event{last}, last.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != history.StatusRunning || len(res.Actions) != 1 || res.Actions[0].TaskID != 51 {
		t.Fatalf("%s %+v %v", res.Status, res.Actions, res.Failure)
	}
}

// BenchmarkReplayFanOut1000 replays the history of FanOutFanIn over 1,000 activities whose
// results have all but one arrived (2,003 events), then applies the last result.
func BenchmarkReplayFanOut1000(b *testing.B) {
	r := durable.NewRegistry()
	if err := fanout.Register(r); err != nil {
		b.Fatal(err)
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	past := []history.Event{
		{Version: 1, Kind: history.OrchestratorStarted, Timestamp: ts},
		{Version: 1, Kind: history.ExecutionStarted, Timestamp: ts, Name: "FanOutFanIn", Input: json.RawMessage(`{"count":1000}`)},
	}
	for i := 1; i <= 1000; i++ {
		past = append(past, history.Event{Version: 1, Kind: history.TaskScheduled, Timestamp: ts, TaskID: int64(i), Name: "Square",
			Input: json.RawMessage(strconv.Itoa(i)), Attempt: 1})
	}
	past = append(past, history.Event{Version: 1, Kind: history.OrchestratorStarted, Timestamp: ts.Add(time.Second)})
	for i := 1; i < 1000; i++ {
		past = append(past, history.Event{Version: 1, Kind: history.TaskCompleted, Timestamp: ts, TaskID: int64(i), Result: json.RawMessage(strconv.Itoa(i * i))})
	}
	incoming := []history.Event{{Version: 1, Kind: history.TaskCompleted, Timestamp: ts, TaskID: 1000, Result: json.RawMessage("1000000")}}
	exec := durable.NewExecutor(r)
	b.ReportAllocs()
	for b.Loop() {
		res, err := exec.Execute("fan", past, incoming, ts.Add(2*time.Second))
		if err != nil || res.Status != history.StatusCompleted || string(res.Output) != "333833500" {
			b.Fatalf("%v %+v", err, res)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(past)+1), "ns/event")
}
