package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleEvents() []Event {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)
	return []Event{
		{Kind: ExecutionStarted, Timestamp: ts, Name: "ProvisionNewDevices", Input: json.RawMessage(`{"devices":3}`), ExecutionID: "e1",
			Parent: &ParentRef{InstanceID: "p", ExecutionID: "pe", TaskID: 4, Name: "Parent"},
			Trace:  &TraceContext{TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", SpanID: "b7ad6b7169203332"},
			FireAt: ts.Add(time.Minute), RewoundFrom: []string{"e0"}},
		{Kind: OrchestratorStarted, Timestamp: ts},
		{Kind: TaskScheduled, Timestamp: ts, TaskID: 1, Name: "A", Input: json.RawMessage(`"x"`), Attempt: 2},
		{Kind: TaskFailed, Timestamp: ts, TaskID: 1, Failure: &Failure{Type: "Error", Message: "m", Stack: "s", Cause: &Failure{Type: "Inner", Message: "i"}}},
		{Kind: TimerCreated, Timestamp: ts, TaskID: 2, FireAt: ts.Add(time.Hour)},
		{Kind: EventRaised, Timestamp: ts, Name: "Ack", Input: json.RawMessage(`true`), MessageID: "m-1"},
		{Kind: ExecutionTerminated, Timestamp: ts, Reason: "bad batch", Recursive: true},
		{Kind: ContinuedAsNew, Timestamp: ts, Input: json.RawMessage(`1`), Carried: []Event{{Version: 1, Kind: EventRaised, Name: "x"}}},
		{Kind: ExecutionRewound, Timestamp: ts, ExecutionID: "e2", Reason: "fixed", MessageID: "m-2"},
	}
}

func TestEventRoundTrip(t *testing.T) {
	for _, ev := range sampleEvents() {
		data, err := EncodeEvent(ev)
		if err != nil {
			t.Fatalf("%s: %v", ev.Kind, err)
		}
		got, err := DecodeEvent(data)
		if err != nil {
			t.Fatalf("%s: %v", ev.Kind, err)
		}
		ev.Version = VersionOf(ev.Kind)
		if !reflect.DeepEqual(got, ev) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", ev.Kind, got, ev)
		}
	}
	all, err := EncodeEvents(sampleEvents())
	if err != nil {
		t.Fatal(err)
	}
	evs, err := DecodeEvents(all)
	if err != nil || len(evs) != len(sampleEvents()) {
		t.Fatalf("DecodeEvents: %d events, %v", len(evs), err)
	}
}

func TestEventFieldNamesAreStable(t *testing.T) {
	data, err := EncodeEvent(Event{Kind: TaskScheduled, TaskID: 3, Name: "A", Attempt: 1,
		Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"kind":"TaskScheduled","ts":"2026-01-01T00:00:00Z","taskId":3,"name":"A","attempt":1}`
	if string(data) != want {
		t.Fatalf("encoded\n %s\nwant\n %s", data, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name, in, want string
		newer          bool
	}{
		{"empty", ``, "decoding event", false},
		{"garbage", `}{`, "decoding event", false},
		{"not an object", `[1,2]`, "decoding event", false},
		{"null", `null`, "no valid version", false},
		{"no version", `{"kind":"TaskScheduled"}`, "no valid version", false},
		{"negative version", `{"v":-1,"kind":"TaskScheduled"}`, "no valid version", false},
		{"newer version", `{"v":5,"kind":"TaskScheduled"}`, "newer version", true},
		{"unknown kind", `{"v":1,"kind":"TaskExploded"}`, `unknown event kind "TaskExploded"`, true},
		{"no kind", `{"v":1}`, `unknown event kind ""`, true},
		{"wrong type", `{"v":"1","kind":"TaskScheduled"}`, "decoding event", false},
		{"bad time", `{"v":1,"kind":"TaskScheduled","ts":"yesterday"}`, "decoding event", false},
		{"bad carried", `{"v":1,"kind":"ContinuedAsNew","carried":[{"v":1,"kind":"Nope"}]}`, "carried event 0", true},
		{"newer carried", `{"v":1,"kind":"ContinuedAsNew","carried":[{"v":9,"kind":"EventRaised"}]}`, "carried event 0", true},
		{"trailing data", `{"v":1,"kind":"TaskScheduled"} x`, "decoding event", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeEvent([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if errors.Is(err, ErrNewerVersion) != c.newer {
				t.Fatalf("errors.Is(err, ErrNewerVersion) = %v, want %v", !c.newer, c.newer)
			}
		})
	}
	if _, err := DecodeEvents([]byte(`[{"v":1,"kind":"TaskScheduled"},{"v":1,"kind":"?"}]`)); err == nil || !strings.Contains(err.Error(), "event 1") {
		t.Fatalf("DecodeEvents: %v", err)
	}
	if _, err := EncodeEvent(Event{Kind: "Nope"}); err == nil {
		t.Fatal("EncodeEvent accepted an unknown kind")
	}
}

// FuzzDecodeEvent checks that decoding never panics and that whatever decodes encodes to
// a stable form.
func FuzzDecodeEvent(f *testing.F) {
	for _, ev := range sampleEvents() {
		data, err := EncodeEvent(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"v":1,"kind":"TaskScheduled"}`))
	f.Add([]byte(`{"v":4,"kind":"TaskScheduled"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeEvent(data)
		if err != nil {
			return
		}
		enc1, err := EncodeEvent(ev)
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
		ev2, err := DecodeEvent(enc1)
		if err != nil {
			t.Fatalf("an encoded event does not decode: %v\n%s", err, enc1)
		}
		enc2, err := EncodeEvent(ev2)
		if err != nil || !bytes.Equal(enc1, enc2) {
			t.Fatalf("encoding is not stable (%v):\n%s\n%s", err, enc1, enc2)
		}
	})
}
