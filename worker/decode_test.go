package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

func TestDecodeControl(t *testing.T) {
	ev := func(v int, kind history.Kind) string {
		b, _ := json.Marshal(history.ControlMessage{InstanceID: "i", Event: history.Event{Version: v, Kind: kind, TaskID: 1}})
		return string(b)
	}
	cases := []struct {
		name, body string
		limit      int
		why        string // "" when the message decodes
	}{
		{"current", ev(history.SchemaVersion, history.TaskCompleted), 1 << 10, ""},
		{"garbage", "\x00\xffnot json", 1 << 10, "undecodable control message: invalid character"},
		{"no instance", `{"event":{"v":1,"kind":"TaskCompleted"}}`, 1 << 10, "undecodable control message: no instance id"},
		{"newer schema", ev(history.SchemaVersion+1, history.TaskCompleted), 1 << 10, "unreadable control message: history: event written by a newer version of Warren"},
		{"no version", ev(0, history.TaskCompleted), 1 << 10, "unreadable control message: event has no valid version"},
		{"unknown kind", ev(history.SchemaVersion, "TaskRewound"), 1 << 10, `unreadable control message: history: event written by a newer version of Warren: unknown event kind "TaskRewound"`},
		{"over the limit", ev(history.SchemaVersion, history.TaskCompleted), 10, "control message too large: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := decodeControl([]byte(c.body), c.limit)
			switch {
			case c.why == "" && err != nil:
				t.Fatalf("decodeControl: %v, want the message", err)
			case c.why == "" && (m.InstanceID != "i" || m.Event.TaskID != 1):
				t.Fatalf("decodeControl = %+v", m)
			case c.why != "" && (err == nil || !strings.HasPrefix(err.Error(), c.why)):
				t.Fatalf("decodeControl error %v, want one beginning %q", err, c.why)
			}
		})
	}
	if _, err := decodeControl(make([]byte, 11), 10); !errors.Is(err, errMessageTooLarge) {
		t.Fatalf("decodeControl over the limit: %v, want errMessageTooLarge", err)
	}
}

func TestDecodeActivity(t *testing.T) {
	cases := []struct {
		name, kind, body string
		limit            int
		why              string
		newer            bool // errors.Is history.ErrNewerVersion
	}{
		{"current", "", `{"instanceId":"i","name":"A","taskId":3}`, 1 << 10, "", false},
		{"current, typed", history.MessageKindActivity, `{"v":1,"instanceId":"i","name":"A","taskId":3}`, 1 << 10, "", false},
		{"garbage", "", "\xff\xfe", 1 << 10, "undecodable activity request: invalid character", false},
		{"another shape", "", `{"schema":2,"instance":"i","activity":"A"}`, 1 << 10, "undecodable activity request: no instance id or activity name", false},
		{"over the limit", "", `{"instanceId":"i","name":"A","taskId":3}`, 16, "activity request too large: 40 bytes, over the worker's limit of 16", false},
		{"newer version", history.MessageKindActivity, `{"v":5,"instanceId":"i","name":"A","taskId":3}`, 1 << 10, "activity request of version 5, this build reads up to 4", true},
		{"another kind", "ActivityBatch", `{"instanceId":"i","name":"A","taskId":3}`, 1 << 10, `work item of kind "ActivityBatch"`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := decodeActivity(c.kind, []byte(c.body), c.limit)
			switch {
			case c.why == "" && (err != nil || req.TaskID != 3):
				t.Fatalf("decodeActivity = %+v, %v", req, err)
			case c.why != "" && (err == nil || !strings.HasPrefix(err.Error(), c.why)):
				t.Fatalf("decodeActivity error %v, want one beginning %q", err, c.why)
			case errors.Is(err, history.ErrNewerVersion) != c.newer:
				t.Fatalf("decodeActivity error %v: errors.Is ErrNewerVersion = %v, want %v", err, !c.newer, c.newer)
			}
		})
	}
}

// workerWith is fleet.worker with a config of the test's.
func (f *fleet) workerWith(id string, cfg Config) *Steps {
	s, _ := f.workerConn(id, cfg)
	return s
}

// A control message of a newer schema, published for a running instance, is dead-lettered
// unread: applied, it would have forged the result the instance waits for.
func TestNewerSchemaControlMessageIsDeadLetteredNotApplied(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Once", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var s string
		err := ctx.CallActivity("Real", nil).Await(&s)
		return s, err
	}))
	must(t, durable.AddActivity(r, "Real", func(context.Context, any) (string, error) { return "real", nil }))
	f := newFleet(t, r, nil, nil)
	w := f.workerWith("w", Config{})
	f.start("once", "Once", "null")
	for rs := f.broker.Ready(); len(rs) > 0; rs = f.broker.Ready() {
		f.broker.Deliver(rs[0])
	}
	w.Batch(context.Background()) // the activity is scheduled, as task 1

	forged := history.Event{Version: history.SchemaVersion + 1, Kind: history.TaskCompleted, TaskID: 1, Result: json.RawMessage(`"forged"`)}
	body, _ := json.Marshal(history.ControlMessage{InstanceID: "once", Event: forged})
	must(t, f.broker.Connect("poison").Publish(context.Background(), queues.ControlQueue("h", 0),
		queues.Message{ID: "forged", Kind: string(forged.Kind), InstanceID: "once", Body: body}))
	inst := f.settle(w, "once")
	if inst.Status != history.StatusCompleted || string(inst.Output) != `"real"` {
		t.Fatalf("instance %+v, want Completed with the real result", inst)
	}
	dead := f.broker.DeadLetters()
	if len(dead) != 1 || dead[0].ID != "forged" || !strings.Contains(dead[0].Reason, "newer version of Warren") {
		t.Fatalf("dead letters %+v, want the forged result with its reason", dead)
	}
}

// An activity result larger than a worker takes fails its task (the orchestration decides
// what follows) rather than being sent and refused, which would leave the orchestration
// waiting for ever.
func TestActivityResultOverTheLimitFailsItsTask(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Big", func(ctx *durable.OrchestrationContext, _ any) (string, error) {
		var s string
		err := ctx.CallActivity("Huge", nil).Await(&s)
		return s, err
	}))
	must(t, durable.AddActivity(r, "Huge", func(context.Context, any) (string, error) { return strings.Repeat("x", 8<<10), nil }))
	f := newFleet(t, r, nil, nil)
	w := f.workerWith("w", Config{MaxMessageBytes: 4 << 10})
	f.start("big", "Big", "null")
	inst := f.settle(w, "big")
	if inst.Status != history.StatusFailed || inst.Failure == nil || !strings.Contains(inst.Failure.Message, "ResultTooLarge") {
		t.Fatalf("instance %+v (failure %+v), want Failed with ResultTooLarge", inst, inst.Failure)
	}
	if dead := f.broker.DeadLetters(); len(dead) != 0 {
		t.Fatalf("dead letters %+v, want none", dead)
	}
}
