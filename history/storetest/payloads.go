package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// jsonString is a JSON string of n bytes of c (quotes included).
func jsonString(c string, n int) json.RawMessage {
	return json.RawMessage(`"` + strings.Repeat(c, n-2) + `"`)
}

// Inputs and outputs over the inline limit are kept beside the history: an episode whose
// events hold 18 MiB in all commits (inline it would be over the record limit) and loads
// back byte for byte, by LoadHistory and LoadHistories; the episode given to the store
// keeps its data inline (a worker caches it); Episode.Payloads are written with it; a
// purge, of one instance or by filter, deletes the payloads with the history.
func testLargePayloads(t *testing.T, s history.Store) {
	ctx := testContext(t)
	input := jsonString("a", history.DefaultPayloadInlineMax+1)
	result := jsonString("b", 9<<20)
	output := jsonString("c", 9<<20)
	small := json.RawMessage(`"small"`)
	ep := episode("p", "e1", 1, "m1")
	ep.Events = append(ep.Events,
		history.Event{Version: history.BaseVersion, Kind: history.TaskScheduled, TaskID: 7, Name: "A", Input: input, Timestamp: ep.CommittedAt},
		history.Event{Version: history.BaseVersion, Kind: history.TaskCompleted, TaskID: 7, Result: result, Timestamp: ep.CommittedAt},
		history.Event{Version: history.BaseVersion, Kind: history.ExecutionCompleted, Result: output, Input: small, Timestamp: ep.CommittedAt})
	message := history.NewPayload("p", "e1", jsonString("d", 300<<10))
	ep.Payloads = []history.Payload{message}
	commit(t, s, ep)
	if ep.Events[1].InputRef != nil || len(ep.Events[2].Result) != len(result) {
		t.Fatal("CommitEpisodes changed the episode it was given")
	}
	check := func(how string, eps []history.Episode) {
		t.Helper()
		if len(eps) != 1 || len(eps[0].Events) != 4 {
			t.Fatalf("%s: %d episodes, want 1 with 4 events", how, len(eps))
		}
		evs := eps[0].Events
		if string(evs[1].Input) != string(input) || string(evs[2].Result) != string(result) ||
			string(evs[3].Result) != string(output) || string(evs[3].Input) != string(small) {
			t.Fatalf("%s: the large inputs and outputs did not come back byte for byte", how)
		}
		for i, ev := range evs {
			if ev.InputRef != nil || ev.ResultRef != nil {
				t.Fatalf("%s: event %d still refers to a payload", how, i)
			}
		}
	}
	eps, err := s.LoadHistory(ctx, "p", "e1")
	if err != nil {
		t.Fatal(err)
	}
	check("LoadHistory", eps)
	commit(t, s, episode("other", "x", 1, "o"))
	byRef, err := s.LoadHistories(ctx, []history.ExecutionRef{{InstanceID: "p", ExecutionID: "e1"}, {InstanceID: "other", ExecutionID: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	check("LoadHistories", byRef[history.ExecutionRef{InstanceID: "p", ExecutionID: "e1"}])

	got, err := s.GetPayloads(ctx, []history.PayloadRef{message.Ref})
	if err != nil || string(got[message.Ref]) != string(message.Data) {
		t.Fatalf("GetPayloads of the episode's payload: %d bytes, %v", len(got[message.Ref]), err)
	}
	if err := s.PutPayloads(ctx, []history.Payload{message}); err != nil {
		t.Fatalf("PutPayloads of a payload that exists: %v", err)
	}
	missing := history.NewPayload("p", "e1", []byte(`"never written"`)).Ref
	if _, err := s.GetPayloads(ctx, []history.PayloadRef{missing}); !errors.Is(err, history.ErrPayloadNotFound) {
		t.Fatalf("GetPayloads of a payload never written: %v, want ErrPayloadNotFound", err)
	}

	// Purge deletes them with the history.
	done := instance("p", history.StatusCompleted, time.Now())
	done.ExecutionID = "e1"
	if err := s.CreateInstance(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPayloads(ctx, []history.PayloadRef{message.Ref}); !errors.Is(err, history.ErrPayloadNotFound) {
		t.Fatalf("GetPayloads after the purge: %v, want ErrPayloadNotFound", err)
	}

	// And so does PurgeInstances.
	q := episode("q", "e1", 1, "q1")
	q.Events = append(q.Events, history.Event{Version: history.BaseVersion, Kind: history.ExecutionCompleted, Result: input, Timestamp: q.CommittedAt})
	commit(t, s, q)
	old := instance("q", history.StatusCompleted, time.Now().Add(-time.Hour))
	old.ExecutionID = "e1"
	if err := s.CreateInstance(ctx, old); err != nil {
		t.Fatal(err)
	}
	ref := history.NewPayload("q", "e1", input).Ref
	if _, err := s.GetPayloads(ctx, []history.PayloadRef{ref}); err != nil {
		t.Fatalf("the large output of q is not kept as a payload: %v", err)
	}
	if n, err := s.PurgeInstances(ctx, history.PurgeFilter{Statuses: []history.Status{history.StatusCompleted}, CreatedTo: time.Now().Add(-time.Minute)}); err != nil || n != 1 {
		t.Fatalf("PurgeInstances: %d, %v", n, err)
	}
	if _, err := s.GetPayloads(ctx, []history.PayloadRef{ref}); !errors.Is(err, history.ErrPayloadNotFound) {
		t.Fatalf("GetPayloads after PurgeInstances: %v, want ErrPayloadNotFound", err)
	}
}
