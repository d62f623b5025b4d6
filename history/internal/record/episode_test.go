package record

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
)

func sampleEpisode() history.Episode {
	at := time.Date(2026, 12, 2, 8, 30, 1, 123456789, time.UTC)
	trace := &history.TraceContext{TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	return history.Episode{
		InstanceID: "order-7", ExecutionID: "e1", Number: 3, CommittedAt: at,
		Events: []history.Event{
			{Version: 1, Kind: history.OrchestratorStarted, Timestamp: at},
			{Version: 1, Kind: history.TaskCompleted, Timestamp: at, TaskID: 1, Result: json.RawMessage(`"ok"`), MessageID: "order-7/e1/1/result"},
			{Version: 1, Kind: history.TaskScheduled, Timestamp: at, TaskID: 2, Name: "Ship", Input: json.RawMessage(`[1,2]`), Attempt: 1, Trace: trace},
		},
		Outbox:   []history.OutboxMessage{{ID: "order-7/e1/2/activity", Kind: history.MessageKindActivity, InstanceID: "order-7", Body: []byte(`{"a":1}`), DueAt: at, Trace: trace}},
		Consumed: []string{"order-7/e1/1/result"},
	}
}

func TestEpisodeIsStoredAsKeysBesideOneBody(t *testing.T) {
	ep := sampleEpisode()
	ep.Chained = true
	raw, err := Marshal(Registry, ep)
	if err != nil {
		t.Fatal(err)
	}
	elems, err := bson.Raw(raw).Elements()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range elems {
		keys = append(keys, e.Key())
	}
	if want := []string{"instanceId", "executionId", "number", "committedAt", "body"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("stored keys %v, want %v", keys, want)
	}
	if typ := bson.Raw(raw).Lookup("body").Type; typ != bson.TypeBinary {
		t.Fatalf("body is BSON %s, want binary", typ)
	}
	var back history.Episode
	if err := Unmarshal(Registry, raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ep) {
		t.Fatalf("episode changed on the way through the store:\n got %+v\nwant %+v", back, ep)
	}
}

func TestEpisodeWrittenNestedStillLoads(t *testing.T) {
	ep := sampleEpisode()
	nested := storedEpisode{InstanceID: ep.InstanceID, ExecutionID: ep.ExecutionID, Number: ep.Number, CommittedAt: ep.CommittedAt,
		Events: ep.Events, Outbox: ep.Outbox, Consumed: ep.Consumed}
	raw, err := Marshal(Registry, nested)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bson.Raw(raw).LookupErr("events"); err != nil {
		t.Fatalf("the nested form has no events field: %v", err)
	}
	var back history.Episode
	if err := Unmarshal(Registry, raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ep) {
		t.Fatalf("a nested episode loaded as\n %+v\nwant %+v", back, ep)
	}
}

func TestEpisodeWithACorruptBodyIsAnError(t *testing.T) {
	raw, err := Marshal(Registry, storedEpisode{InstanceID: "x", ExecutionID: "e", Number: 1, Body: []byte{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	var back history.Episode
	if err := Unmarshal(Registry, raw, &back); err == nil {
		t.Fatalf("a corrupt body loaded as %+v", back)
	}
}
