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

// smallEpisode is an episode whose body is under zbodyMin, stored as it is.
func smallEpisode() history.Episode {
	ep := sampleEpisode()
	ep.Events, ep.Outbox = ep.Events[:2], nil
	return ep
}

func TestEpisodeIsStoredAsKeysBesideOneBody(t *testing.T) {
	ep := smallEpisode()
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
	loadsAs(t, raw, ep, "episode changed on the way through the store")
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
	loadsAs(t, raw, ep, "a nested episode loaded as")
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

// loadsAs checks that the stored episode raw loads as want; what names the form in the
// error.
func loadsAs(t *testing.T, raw []byte, want history.Episode, what string) {
	t.Helper()
	var back history.Episode
	if err := Unmarshal(Registry, raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, back, want)
	}
}

// bigEpisode is an episode whose body is well over zbodyMin: a folded run of activities.
func bigEpisode() history.Episode {
	ep := sampleEpisode()
	for i := range 12 {
		ev := ep.Events[2]
		ev.TaskID = int64(3 + i)
		ep.Events = append(ep.Events, ev)
	}
	return ep
}

func TestLargeEpisodeBodyIsStoredCompressed(t *testing.T) {
	ep := bigEpisode()
	plain, err := Marshal(Registry, episodeBody{Events: ep.Events, Outbox: ep.Outbox, Consumed: ep.Consumed})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Marshal(Registry, ep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bson.Raw(raw).LookupErr("body"); err == nil {
		t.Fatalf("a %d-byte body was stored uncompressed", len(plain))
	}
	z, err := bson.Raw(raw).LookupErr("zbody")
	if err != nil {
		t.Fatalf("no zbody for a %d-byte body: %v", len(plain), err)
	}
	if _, data := z.Binary(); len(data) >= len(plain)/2 {
		t.Fatalf("zbody is %d bytes for a %d-byte body", len(data), len(plain))
	}
	loadsAs(t, raw, ep, "a compressed episode loaded as")
}

func TestSmallEpisodeBodyIsNotCompressed(t *testing.T) {
	ep := smallEpisode()
	raw, err := Marshal(Registry, ep)
	if err != nil {
		t.Fatal(err)
	}
	body, err := bson.Raw(raw).LookupErr("body")
	if err != nil {
		t.Fatalf("no body: %v", err)
	}
	if _, data := body.Binary(); len(data) >= zbodyMin {
		t.Fatalf("the sample's body is %d bytes: not a small one", len(data))
	}
	if _, err := bson.Raw(raw).LookupErr("zbody"); err == nil {
		t.Fatal("a small body was compressed too")
	}
}

func TestEpisodeWithAnUncompressedLargeBodyStillLoads(t *testing.T) {
	ep := bigEpisode()
	body, err := Marshal(Registry, episodeBody{Events: ep.Events, Outbox: ep.Outbox, Consumed: ep.Consumed})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Marshal(Registry, storedEpisode{InstanceID: ep.InstanceID, ExecutionID: ep.ExecutionID, Number: ep.Number,
		CommittedAt: ep.CommittedAt, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	loadsAs(t, raw, ep, "an episode written before compression loaded as")
}

func TestEpisodeWithACorruptZBodyIsAnError(t *testing.T) {
	ep := bigEpisode()
	raw, err := Marshal(Registry, ep)
	if err != nil {
		t.Fatal(err)
	}
	z, err := bson.Raw(raw).LookupErr("zbody")
	if err != nil {
		t.Fatal(err)
	}
	_, data := z.Binary()
	for _, bad := range [][]byte{data[:len(data)/2], append([]byte{0xff, 0xff}, data...), {1, 2, 3}} {
		raw, err := Marshal(Registry, storedEpisode{InstanceID: "x", ExecutionID: "e", Number: 1, ZBody: bad})
		if err != nil {
			t.Fatal(err)
		}
		var back history.Episode
		if err := Unmarshal(Registry, raw, &back); err == nil {
			t.Fatalf("a corrupt zbody loaded as %+v", back)
		}
	}
}

func TestOversizedBodyIsNotCompressedIntoTheLimit(t *testing.T) {
	// A body over MaxBytes that would compress to almost nothing stays as it is, so that
	// the store refuses the episode as it did before compression (CheckDocument).
	if _, ok := compressBody(make([]byte, MaxBytes+1)); ok {
		t.Fatal("a body over MaxBytes was compressed")
	}
	if _, ok := compressBody(make([]byte, MaxBytes/2)); !ok {
		t.Fatal("a compressible body under MaxBytes was not compressed")
	}
}
