package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// An activity input and result over the inline limit travel as refs to payloads in the
// store: the work item and the result message carry no data, the activity gets its input,
// the orchestration its result, and a purge leaves no payload behind.
func TestLargeInputsAndResultsTravelAsPayloads(t *testing.T) {
	ctx := context.Background()
	big := strings.Repeat("x", 4<<10)
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Echo", func(ctx *durable.OrchestrationContext, in string) (string, error) {
		var out string
		err := ctx.CallActivity("Double", in).Await(&out)
		return out, err
	}))
	must(t, durable.AddActivity(r, "Double", func(_ context.Context, in string) (string, error) { return in + in, nil }))
	f := newFleet(t, r, nil, nil)
	w := f.workerWith("w", Config{PayloadInlineMax: 1 << 10})
	input, _ := json.Marshal(big)
	f.start("e", "Echo", string(input))
	f.deliverAll()
	w.Batch(ctx)
	f.deliverAll()
	if w.Activities() != 1 {
		t.Fatalf("%d work items, want 1", w.Activities())
	}
	item := w.items[0]
	if len(item.Body) > 1<<10 || !strings.Contains(string(item.Body), `"inputRef"`) {
		t.Fatalf("the work item carries %d bytes (%.80s...), want a ref to the input", len(item.Body), item.Body)
	}
	w.RunActivity(ctx, 0)
	results := f.broker.Pending(queues.ControlQueue("h", 0))
	if len(results) != 1 || len(results[0].Body) > 1<<10 || !strings.Contains(string(results[0].Body), `"resultRef"`) {
		t.Fatalf("result messages %d (first %d bytes), want one that refers to the result", len(results), len(results[0].Body))
	}
	inst := f.settle(w, "e")
	var out string
	if inst.Status != history.StatusCompleted || json.Unmarshal(inst.Output, &out) != nil || out != big+big {
		t.Fatalf("instance %s (failure %v), output of %d bytes; want Completed with the doubled input", inst.Status, inst.Failure, len(out))
	}
	eps := mustHistory(t, f, "e")
	if evs := flatten(eps); string(evs[len(evs)-1].Result) != string(inst.Output) {
		t.Fatal("the history does not hold the output back in place")
	}
	ref := history.NewPayload("e", inst.ExecutionID, input).Ref
	if _, err := f.store.GetPayloads(ctx, []history.PayloadRef{ref}); err != nil {
		t.Fatalf("the input is not kept as a payload: %v", err)
	}
	must(t, f.store.Purge(ctx, "e"))
	if _, err := f.store.GetPayloads(ctx, []history.PayloadRef{ref}); err == nil {
		t.Fatal("a payload of the purged instance is left")
	}
}

// payloadCalls counts the store's payload calls.
type payloadCalls struct {
	history.Store
	puts, gets int
}

func (s *payloadCalls) PutPayloads(ctx context.Context, ps []history.Payload) error {
	s.puts++
	return s.Store.PutPayloads(ctx, ps)
}

func (s *payloadCalls) GetPayloads(ctx context.Context, refs []history.PayloadRef) (map[history.PayloadRef][]byte, error) {
	s.gets++
	return s.Store.GetPayloads(ctx, refs)
}

// Small inputs and outputs take no payload step: a run of activities under the inline
// limit makes no payload call to the store.
func TestSmallValuesMakeNoPayloadCalls(t *testing.T) {
	ctx := context.Background()
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "Echo", func(ctx *durable.OrchestrationContext, in string) (string, error) {
		var out string
		err := ctx.CallActivity("Double", in).Await(&out)
		return out, err
	}))
	must(t, durable.AddActivity(r, "Double", func(_ context.Context, in string) (string, error) { return in + in, nil }))
	f := newFleet(t, r, nil, nil)
	calls := &payloadCalls{Store: f.store}
	w, err := New(Config{Hub: "h", Partitions: 1, WorkerID: "w", Now: f.clock, Logger: slog.New(slog.DiscardHandler)},
		calls, memConn{f.broker.Connect("w")}, r)
	must(t, err)
	s := w.Steps(nil)
	must(t, s.Subscribe(ctx))
	s.Heartbeat(ctx)
	f.start("e", "Echo", `"small"`)
	if inst := f.settle(s, "e"); inst.Status != history.StatusCompleted || string(inst.Output) != `"smallsmall"` {
		t.Fatalf("instance %s output %s", inst.Status, inst.Output)
	}
	if calls.puts != 0 || calls.gets != 0 {
		t.Fatalf("%d PutPayloads and %d GetPayloads calls for small values, want none", calls.puts, calls.gets)
	}
}
