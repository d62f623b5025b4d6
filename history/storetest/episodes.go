package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// Two workers committing the same episode number at the same moment: exactly one wins, and
// the history holds the winner's episode.
func testCommitEpisodeRace(t *testing.T, s history.Store) {
	ctx := testContext(t)
	const rounds = 100
	winners := make(map[int64]string)
	for n := int64(1); n <= rounds; n++ {
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [2]error
		)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ep := episode("race", "exec-1", n, fmt.Sprintf("worker-%d", w))
				<-start
				errs[w] = s.CommitEpisodes(ctx, []*history.Episode{ep})[0]
			}()
		}
		close(start)
		wg.Wait()
		var won []int
		for w, err := range errs {
			switch {
			case err == nil:
				won = append(won, w)
			case !errors.Is(err, history.ErrEpisodeConflict):
				t.Fatalf("round %d: worker %d: unexpected error %v", n, w, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d winners (errors %v), want exactly 1", n, len(won), errs)
		}
		winners[n] = fmt.Sprintf("worker-%d", won[0])
	}
	eps, err := s.LoadHistory(ctx, "race", "exec-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != rounds {
		t.Fatalf("history holds %d episodes, want %d", len(eps), rounds)
	}
	for i, ep := range eps {
		if ep.Number != int64(i+1) {
			t.Fatalf("episode %d has number %d: not in order", i, ep.Number)
		}
		if ep.Consumed[0] != winners[ep.Number] {
			t.Errorf("episode %d was written by %s, but %s was told it won", ep.Number, ep.Consumed[0], winners[ep.Number])
		}
	}
}

// Several instances' episodes in one call: each is committed or refused on its own.
func testCommitEpisodesEachAlone(t *testing.T, s history.Store) {
	ctx := testContext(t)
	commit(t, s, episode("a", "x", 1, "first a1"), episode("c", "x", 2, "first c2"))
	batch := []*history.Episode{
		episode("a", "x", 1, "second a1"), // 0: taken
		episode("a", "x", 2, "a2"),        // 1: new
		episode("b", "x", 1, "b1"),        // 2: new
		nil,                               // 3: invalid
		episode("c", "x", 2, "second c2"), // 4: taken
		episode("", "x", 1, "no id"),      // 5: invalid
		episode("d", "x", 1, "d1 one"),    // 6: new
		episode("d", "x", 1, "d1 two"),    // 7: the same key twice in one batch
		episode("c", "y", 2, "c2 of y"),   // 8: another execution: new
		episode("e", "x", 0, "zero"),      // 9: invalid number
	}
	errs := s.CommitEpisodes(ctx, batch)
	if len(errs) != len(batch) {
		t.Fatalf("%d errors for %d episodes", len(errs), len(batch))
	}
	want := []error{history.ErrEpisodeConflict, nil, nil, history.ErrInvalidArgument, history.ErrEpisodeConflict,
		history.ErrInvalidArgument, nil, history.ErrEpisodeConflict, nil, history.ErrInvalidArgument}
	for i, err := range errs {
		if want[i] == nil && err != nil || want[i] != nil && !errors.Is(err, want[i]) {
			t.Errorf("errs[%d] = %v, want %v", i, err, want[i])
		}
	}
	check := map[[2]string][]string{
		{"a", "x"}: {"first a1", "a2"},
		{"b", "x"}: {"b1"},
		{"c", "x"}: {"first c2"},
		{"c", "y"}: {"c2 of y"},
		{"d", "x"}: {"d1 one"},
		{"e", "x"}: nil,
	}
	for key, want := range check {
		if got := markers(t, s, key[0], key[1]); !reflect.DeepEqual(got, want) {
			t.Errorf("history of %s/%s = %q, want %q", key[0], key[1], got, want)
		}
	}
}

func testCommitEpisodesEmptyBatch(t *testing.T, s history.Store) {
	if errs := s.CommitEpisodes(testContext(t), nil); len(errs) != 0 {
		t.Fatalf("errs = %v, want none", errs)
	}
}

// fullEpisode uses every field of the event model, with bytes chosen to catch any
// re-encoding: JSON with odd whitespace and escapes, binary bodies, nanosecond times.
func fullEpisode() *history.Episode {
	at := func(ns int) time.Time { return time.Date(2026, 11, 25, 21, 30, 0, ns, time.UTC) }
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	trace := &history.TraceContext{
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		TraceState:  "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
		SpanID:      "53995c3f42cd8ad8",
	}
	return &history.Episode{
		InstanceID: "rt/instance ✓", ExecutionID: "exec-α", Number: 3,
		Events: []history.Event{
			{Version: 1, Kind: history.OrchestratorStarted, Timestamp: at(1)},
			{Version: 1, Kind: history.ExecutionStarted, Timestamp: at(123456789), Name: "Provision",
				Input:       json.RawMessage("{ \"ids\" : [1, 2,\n 3], \"s\": \"\\u00e9\\\"x\" , \"u\": \"日本\" }"),
				ExecutionID: "exec-α", Trace: trace, FireAt: at(999999999),
				Parent: &history.ParentRef{InstanceID: "parent", ExecutionID: "pe", TaskID: 7, Name: "Parent"}},
			{Version: 1, Kind: history.TaskFailed, Timestamp: at(2), TaskID: 1 << 40,
				Failure: &history.Failure{Type: "*errors.errorString", Message: "boom: \"quoted\"\n\tline",
					Stack: "goroutine 1 [running]:\nmain.main()\n\t/x.go:3 +0x1d",
					Cause: &history.Failure{Type: "io.EOF", Message: "EOF", Cause: &history.Failure{Type: "t", Message: "m"}}}},
			{Version: 1, Kind: history.TaskCompleted, Timestamp: at(3), TaskID: 2, Result: json.RawMessage(`null`)},
			{Version: 1, Kind: history.TaskScheduled, Timestamp: at(4), TaskID: 3, Name: "Act", Attempt: 2,
				Input: json.RawMessage(`[ ]`), Trace: &history.TraceContext{TraceParent: trace.TraceParent}},
			{Version: 1, Kind: history.TimerCreated, Timestamp: at(5), TaskID: 4, FireAt: at(6)},
			{Version: 1, Kind: history.ExecutionTerminated, Timestamp: at(7), Reason: "bad batch", Recursive: true},
			{Version: 1, Kind: history.EventRaised, Timestamp: at(8), Name: "Ack", Input: json.RawMessage(`true`), MessageID: "m-1"},
			{Version: 1, Kind: history.ContinuedAsNew, Timestamp: at(9), Input: json.RawMessage(`42`),
				Carried: []history.Event{{Version: 1, Kind: history.EventRaised, Timestamp: at(10), Name: "Late", Input: json.RawMessage(` "x" `)}}},
		},
		Outbox: []history.OutboxMessage{
			{ID: "o-1", Kind: history.MessageKindActivity, InstanceID: "rt/instance ✓", Body: allBytes, Trace: trace},
			{ID: "o-2", Kind: string(history.TimerFired), InstanceID: "rt/instance ✓", Body: []byte(`{"a":1}`), DueAt: at(11)},
		},
		Consumed:    []string{"m-1", "m-2"},
		CommittedAt: at(12),
	}
}

// History keeps every byte and every nanosecond: replay must see exactly what was written.
func testHistoryRoundTrip(t *testing.T, s history.Store) {
	ctx := testContext(t)
	in := fullEpisode()
	// Committed out of order and next to another execution, which LoadHistory must leave out.
	later := fullEpisode()
	later.Number = 4
	other := fullEpisode()
	other.ExecutionID = "another"
	commit(t, s, later, other, in)
	eps, err := s.LoadHistory(ctx, in.InstanceID, in.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0].Number != 3 || eps[1].Number != 4 {
		t.Fatalf("loaded %d episodes %v, want numbers 3 and 4", len(eps), eps)
	}
	if !reflect.DeepEqual(&eps[0], in) {
		a, _ := json.MarshalIndent(in, "", " ")
		b, _ := json.MarshalIndent(eps[0], "", " ")
		t.Fatalf("episode changed on the way through the store:\nwrote  %s\nloaded %s", a, b)
	}
	// DeepEqual compares bytes, but say it outright for the raw JSON and the bodies.
	if got, want := string(eps[0].Events[1].Input), string(in.Events[1].Input); got != want {
		t.Errorf("input = %q, want %q", got, want)
	}
	if got, want := eps[0].Outbox[0].Body, in.Outbox[0].Body; string(got) != string(want) {
		t.Errorf("outbox body = %x, want %x", got, want)
	}
}

// Episode numbers order numerically, whatever order they were committed in.
func testLoadHistoryOrder(t *testing.T, s history.Store) {
	numbers := []int64{10, 2, 1, 11, 3, 100, 20}
	var eps []*history.Episode
	for _, n := range numbers {
		eps = append(eps, episode("ordered", "e", n, fmt.Sprint(n)))
	}
	commit(t, s, eps[:3]...)
	commit(t, s, eps[3:]...)
	loaded, err := s.LoadHistory(testContext(t), "ordered", "e")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, ep := range loaded {
		got = append(got, ep.Number)
	}
	want := slices.Sorted(slices.Values(numbers))
	if !slices.Equal(got, want) {
		t.Fatalf("episode numbers %v, want %v", got, want)
	}
}

func testLoadHistoryUnknown(t *testing.T, s history.Store) {
	eps, err := s.LoadHistory(testContext(t), "nobody", "none")
	if err != nil || len(eps) != 0 {
		t.Fatalf("LoadHistory = %v, %v; want no episodes and no error", eps, err)
	}
}
