package durabletest

// These tests are in the package itself so that the replay test can feed an episode
// through the very path the harness exports with (traceEpisode).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/examples/provisioning"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/retrypolicy"
	"github.com/warrenhq/warren/tracing"
)

// recording returns a tracer of a provider set up as a worker's (tracing.IDGenerator) that
// records every ended span in the returned recorder.
func recording(t *testing.T) (trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithIDGenerator(tracing.IDGenerator{}),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(rec),
	)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("durabletest-test"), rec
}

func provisioningHarness(t *testing.T) *Harness {
	t.Helper()
	r := durable.NewRegistry()
	if err := provisioning.Register(r); err != nil {
		t.Fatal(err)
	}
	return New(r)
}

// startTraced opens a create_orchestration span on client at the virtual clock's time, as
// a dispatcher would, and starts the instance under it.
func startTraced(t *testing.T, h *Harness, client trace.Tracer, name, id string, input any) {
	t.Helper()
	ctx, create := client.Start(context.Background(), "create_orchestration "+name, trace.WithTimestamp(h.Now()))
	ok(t, h.StartContext(ctx, name, id, input))
	create.End(trace.WithTimestamp(h.Now()))
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// attr is the value of s's attribute key in its string form; "" when s has none.
func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

// checkOneTrace fails the test unless spans form one tree in one trace: one trace id,
// unique span ids, exactly one root, and every other span's parent among them.
func checkOneTrace(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	if len(spans) == 0 {
		t.Fatal("no spans")
	}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		if s.SpanContext().TraceID() != spans[0].SpanContext().TraceID() {
			t.Errorf("span %q is in trace %s, %q in %s", s.Name(), s.SpanContext().TraceID(), spans[0].Name(), spans[0].SpanContext().TraceID())
		}
		if ids[s.SpanContext().SpanID()] {
			t.Errorf("span id %s appears twice (%q)", s.SpanContext().SpanID(), s.Name())
		}
		ids[s.SpanContext().SpanID()] = true
	}
	roots := 0
	for _, s := range spans {
		switch {
		case !s.Parent().IsValid():
			roots++
		case !ids[s.Parent().SpanID()]:
			t.Errorf("span %q has parent %s, which was never exported", s.Name(), s.Parent().SpanID())
		}
	}
	if roots != 1 {
		t.Errorf("%d root spans, want 1", roots)
	}
}

// tree draws spans as an indented tree, one span a line: its name, what tells it from its
// siblings (instance, attempt, timer purpose), its start and end as offsets from the
// harness's Start, its final status and its error. Siblings are in order of start, end,
// task id and name, so the drawing of a deterministic run is deterministic.
func tree(spans []sdktrace.ReadOnlySpan) string {
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	for _, s := range spans {
		if p := s.Parent(); p.IsValid() && ids[p.SpanID()] {
			children[p.SpanID()] = append(children[p.SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	taskID := func(s sdktrace.ReadOnlySpan) int64 {
		n, err := strconv.ParseInt(attr(s, tracing.AttrTaskID), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	order := func(a, b sdktrace.ReadOnlySpan) int {
		if c := a.StartTime().Compare(b.StartTime()); c != 0 {
			return c
		}
		if c := a.EndTime().Compare(b.EndTime()); c != 0 {
			return c
		}
		if c := taskID(a) - taskID(b); c != 0 {
			return int(c)
		}
		return strings.Compare(a.Name(), b.Name())
	}
	var b strings.Builder
	var draw func(s sdktrace.ReadOnlySpan, depth int)
	draw = func(s sdktrace.ReadOnlySpan, depth int) {
		fmt.Fprintf(&b, "%s%s", strings.Repeat("  ", depth), s.Name())
		if strings.HasPrefix(s.Name(), "orchestration ") {
			fmt.Fprintf(&b, " %s", attr(s, tracing.AttrInstanceID))
		}
		if a := attr(s, tracing.AttrAttempt); a != "" {
			fmt.Fprintf(&b, " #%s", a)
		}
		if n := attr(s, tracing.AttrTimerName); n != "" {
			fmt.Fprintf(&b, " (%s)", n)
		}
		fmt.Fprintf(&b, " [%v, %v]", s.StartTime().Sub(Start), s.EndTime().Sub(Start))
		if st := attr(s, tracing.AttrStatus); st != "" {
			fmt.Fprintf(&b, " %s", st)
		}
		if s.Status().Code == codes.Error {
			fmt.Fprintf(&b, " ERROR %q", s.Status().Description)
		}
		b.WriteByte('\n')
		kids := children[s.SpanContext().SpanID()]
		slices.SortStableFunc(kids, order)
		for _, k := range kids {
			draw(k, depth+1)
		}
	}
	slices.SortStableFunc(roots, order)
	for _, r := range roots {
		draw(r, 0)
	}
	return b.String()
}

func wantTree(t *testing.T, spans []sdktrace.ReadOnlySpan, want string) {
	t.Helper()
	want = strings.TrimLeft(want, "\n")
	if got := tree(spans); got != want {
		t.Errorf("span tree:\n%s\nwant:\n%s", got, want)
	}
}

// seedTree is the trace of the seed scenario with three devices, the first acknowledging
// after an hour, the second after two, the third after three.
const seedTree = `
create_orchestration ProvisionNewDevices [0s, 0s]
  orchestration ProvisionNewDevices batch [0s, 3h0m0s] Completed
    activity GetNewDeviceIds #1 [0s, 0s]
    orchestration DeviceProvisioningOrchestration batch:device-0001 #1 [0s, 1h0m0s] Completed
      activity CreateInstallationPackage #1 [0s, 0s]
      activity SendPackageUrlToDevice #1 [0s, 0s]
      event DownloadCompletedAck [0s, 1h0m0s]
    orchestration DeviceProvisioningOrchestration batch:device-0002 #1 [0s, 2h0m0s] Completed
      activity CreateInstallationPackage #1 [0s, 0s]
      activity SendPackageUrlToDevice #1 [0s, 0s]
      event DownloadCompletedAck [0s, 2h0m0s]
    orchestration DeviceProvisioningOrchestration batch:device-0003 #1 [0s, 3h0m0s] Completed
      activity CreateInstallationPackage #1 [0s, 0s]
      activity SendPackageUrlToDevice #1 [0s, 0s]
      event DownloadCompletedAck [0s, 3h0m0s]
`

// runSeed runs the seed scenario with three devices under a create_orchestration span of
// client, acknowledging device i after i hours.
func runSeed(t *testing.T, h *Harness, client trace.Tracer) {
	t.Helper()
	startTraced(t, h, client, "ProvisionNewDevices", "batch", provisioning.Input{Devices: 3})
	ok(t, h.RunUntilIdle())
	for i := 1; i <= 3; i++ {
		ok(t, h.Advance(time.Hour))
		ok(t, h.RaiseEvent(fmt.Sprintf("batch:device-%04d", i), "DownloadCompletedAck", true))
		ok(t, h.RunUntilIdle())
	}
	if s := h.Status("batch"); s != history.StatusCompleted {
		t.Fatalf("batch is %s, want Completed", s)
	}
}

func TestTraceOfTheSeedScenario(t *testing.T) {
	client, clientRec := recording(t)
	worker, rec := recording(t)
	h := provisioningHarness(t)
	h.SetTracer(worker)
	runSeed(t, h, client)

	if n := len(clientRec.Ended()); n != 1 {
		t.Fatalf("the client recorded %d spans, want its create_orchestration only", n)
	}
	spans := append(clientRec.Ended(), rec.Ended()...)
	checkOneTrace(t, spans)
	wantTree(t, spans, seedTree)

	// Every orchestration span has the id fixed in its ExecutionStarted.
	for _, id := range h.Instances() {
		started := h.instances[id].started
		want := started.Trace.SpanID
		found := false
		for _, s := range spans {
			if s.Name() != "orchestration "+started.Name || attr(s, tracing.AttrInstanceID) != id {
				continue
			}
			found = true
			if got := s.SpanContext().SpanID().String(); got != want {
				t.Errorf("orchestration span of %s has id %s, want %s (its ExecutionStarted's)", id, got, want)
			}
		}
		if !found {
			t.Errorf("no orchestration span of %s", id)
		}
	}
}

func TestTraceWithoutTracerChangesNothing(t *testing.T) {
	h := provisioningHarness(t)
	ok(t, h.Start("ProvisionNewDevices", "batch", provisioning.Input{Devices: 1}))
	ok(t, h.RunUntilIdle())
	for _, id := range h.Instances() {
		if tc := h.instances[id].started.Trace; tc != nil {
			t.Errorf("%s started with trace context %+v, though no tracer is set", id, tc)
		}
	}
}

func TestTraceOfARetriedActivity(t *testing.T) {
	r := durable.NewRegistry()
	ok(t, errors.Join(
		durable.AddOrchestrator(r, "Flaky", func(ctx *durable.OrchestrationContext, _ struct{}) (string, error) {
			var out string
			err := ctx.CallActivity("Flap", nil, durable.WithRetry(retrypolicy.Policy{
				MaxAttempts: 3, FirstInterval: time.Minute, BackoffCoefficient: 2,
			})).Await(&out)
			return out, err
		}),
		durable.AddActivity(r, "Flap", func(ctx context.Context, _ struct{}) (string, error) {
			if a := durable.GetActivityInfo(ctx).Attempt; a < 3 {
				return "", fmt.Errorf("flap %d", a)
			}
			return "landed", nil
		}),
	))
	worker, rec := recording(t)
	h := New(r)
	h.SetTracer(worker)
	ok(t, h.Start("Flaky", "f", struct{}{})) // no caller: the orchestration is the root
	ok(t, h.Run())
	if s := h.Status("f"); s != history.StatusCompleted {
		t.Fatalf("f is %s, want Completed", s)
	}
	checkOneTrace(t, rec.Ended())
	wantTree(t, rec.Ended(), `
orchestration Flaky f [0s, 3m0s] Completed
  activity Flap #1 [0s, 0s] ERROR "flap 1"
  timer (retry Flap) [0s, 1m0s]
  activity Flap #2 [1m0s, 1m0s] ERROR "flap 2"
  timer (retry Flap) [1m0s, 3m0s]
  activity Flap #3 [3m0s, 3m0s]
`)
}

func TestTraceOfAFailedChild(t *testing.T) {
	client, clientRec := recording(t)
	worker, rec := recording(t)
	h := provisioningHarness(t)
	h.SetTracer(worker)
	startTraced(t, h, client, "ProvisionNewDevices", "b", provisioning.Input{Devices: 1})
	ok(t, h.RunUntilIdle())
	// The device says no after ten minutes, three times: each attempt of its orchestration
	// fails, the parent's retry policy waits between them, and then the parent fails.
	for attempt := 1; attempt <= provisioning.DeviceRetry.MaxAttempts; attempt++ {
		ok(t, h.Advance(10*time.Minute))
		ok(t, h.RaiseEvent("b:device-0001", "DownloadCompletedAck", false))
		ok(t, h.RunUntilIdle())
		if attempt < provisioning.DeviceRetry.MaxAttempts {
			ok(t, h.Advance(provisioning.DeviceRetry.Delay(attempt)))
		}
	}
	if s := h.Status("b"); s != history.StatusFailed {
		t.Fatalf("b is %s, want Failed", s)
	}
	parentFailure := h.Failure("b").Message
	const childFailure = "device device-0001 reported that its download failed"
	if !strings.Contains(parentFailure, childFailure) {
		t.Fatalf("the parent's failure %q does not carry the child's %q", parentFailure, childFailure)
	}

	spans := append(clientRec.Ended(), rec.Ended()...)
	checkOneTrace(t, spans)
	child := func(attempt int, from, to string) string {
		return fmt.Sprintf(`    orchestration DeviceProvisioningOrchestration b:device-0001 #%d [%s, %s] Failed ERROR %q
      activity CreateInstallationPackage #1 [%s, %s]
      activity SendPackageUrlToDevice #1 [%s, %s]
      event DownloadCompletedAck [%s, %s]
`, attempt, from, to, childFailure, from, from, from, from, from, to)
	}
	wantTree(t, spans, `
create_orchestration ProvisionNewDevices [0s, 0s]
  orchestration ProvisionNewDevices b [0s, 30m3s] Failed ERROR `+strconv.Quote(parentFailure)+`
    activity GetNewDeviceIds #1 [0s, 0s]
`+child(1, "0s", "10m0s")+
		`    timer (retry DeviceProvisioningOrchestration) [10m0s, 10m1s]
`+child(2, "10m1s", "20m1s")+
		`    timer (retry DeviceProvisioningOrchestration) [20m1s, 20m3s]
`+child(3, "20m3s", "30m3s"))
}

// TestReplayExportsNothingNew runs the executor again over committed histories that hold
// finished activities, timers, event waits and children, and feeds the results through the
// harness's export path: no span may come out, neither for a plain replay nor for a
// redelivered message whose event is already in history.
func TestReplayExportsNothingNew(t *testing.T) {
	r := durable.NewRegistry()
	ok(t, provisioning.Register(r))
	ok(t, durable.AddOrchestrator(r, "Sleepy", func(ctx *durable.OrchestrationContext, _ struct{}) (bool, error) {
		if err := ctx.CreateTimer(time.Minute).Await(nil); err != nil {
			return false, err
		}
		var ack bool
		if err := ctx.WaitForExternalEvent("Go", time.Hour).Await(&ack); err != nil {
			return false, err
		}
		return ack, ctx.CreateTimer(time.Hour).Await(nil)
	}))
	client, _ := recording(t)
	worker, rec := recording(t)
	h := New(r)
	h.SetTracer(worker)
	startTraced(t, h, client, "ProvisionNewDevices", "batch", provisioning.Input{Devices: 2})
	startTraced(t, h, client, "Sleepy", "s", struct{}{})
	ok(t, h.RunUntilIdle())
	ok(t, h.Advance(time.Minute))
	ok(t, h.RaiseEvent("s", "Go", true))
	ok(t, h.RaiseEvent("batch:device-0001", "DownloadCompletedAck", true))
	ok(t, h.RunUntilIdle())
	// Now: device 1 is done, the batch waits for device 2 (waiting for its ack), and s has
	// had its timer and its event and sleeps on a second timer.
	for id, want := range map[string]history.Status{"batch": history.StatusRunning, "batch:device-0001": history.StatusCompleted,
		"batch:device-0002": history.StatusRunning, "s": history.StatusRunning} {
		if got := h.Status(id); got != want {
			t.Fatalf("%s is %s, want %s", id, got, want)
		}
	}
	before := len(rec.Ended())
	if before == 0 {
		t.Fatal("nothing exported before the replays")
	}

	replays := 0
	for _, id := range h.Instances() {
		inst := h.instances[id]
		if finished(inst.status) {
			// The executor refuses an ended execution, so a worker never gets to export it.
			if _, err := h.exec.Execute(id, h.History(id), nil, h.Now()); err == nil {
				t.Errorf("replaying the ended %s: no error", id)
			}
			continue
		}
		past := h.History(id)
		redelivered := []history.Event(nil)
		for _, ev := range past {
			switch ev.Kind {
			case history.TaskCompleted, history.TimerFired, history.EventRaised, history.SubOrchestrationCompleted:
				redelivered = append(redelivered, ev)
			}
		}
		if len(redelivered) == 0 {
			t.Fatalf("%s has nothing finished in its history to replay", id)
		}
		for _, incoming := range [][]history.Event{nil, redelivered} {
			res, err := h.exec.Execute(id, past, incoming, h.Now().Add(time.Second))
			if err != nil {
				t.Fatalf("replaying %s: %v", id, err)
			}
			h.traceEpisode(id, inst.started, res)
			replays++
		}
	}
	if replays != 6 {
		t.Fatalf("%d replays, want 6 (two for each of the three running instances)", replays)
	}
	if after := len(rec.Ended()); after != before {
		var names []string
		for _, s := range rec.Ended()[before:] {
			names = append(names, s.Name())
		}
		t.Fatalf("replaying exported %d more spans: %v", after-before, names)
	}
}

// TestTraceAcrossTwoWorkers runs the seed scenario with every episode exported by the
// other of two "workers" (tracer providers) than the one before it: the pieces must still
// make the one tree, with one orchestration span per execution at its true start.
func TestTraceAcrossTwoWorkers(t *testing.T) {
	client, clientRec := recording(t)
	a, recA := recording(t)
	b, recB := recording(t)
	h := provisioningHarness(t)
	workers := []trace.Tracer{a, b}
	episodes := 0
	ranOn := map[string]map[int]bool{} // instance → the workers that ran its episodes
	h.OnEpisode(func(id string, _ []history.Event, _ *durable.Result) {
		w := episodes % 2
		episodes++
		h.SetTracer(workers[w])
		if ranOn[id] == nil {
			ranOn[id] = map[int]bool{}
		}
		ranOn[id][w] = true
	})
	h.SetTracer(a) // so that instances are started with trace context
	runSeed(t, h, client)

	if len(recA.Ended()) == 0 || len(recB.Ended()) == 0 {
		t.Fatalf("worker a exported %d spans, b %d: want both to export", len(recA.Ended()), len(recB.Ended()))
	}
	for _, id := range []string{"batch", "batch:device-0001"} {
		if len(ranOn[id]) != 2 {
			t.Errorf("the episodes of %s ran on workers %v, want both", id, ranOn[id])
		}
	}
	spans := slices.Concat(clientRec.Ended(), recA.Ended(), recB.Ended())
	checkOneTrace(t, spans)
	wantTree(t, spans, seedTree)
}

// TestTraceOfContinueAsNew: every execution of an instance that continues as new has a
// span of its own, under the same caller, from its own start to its own end.
func TestTraceOfContinueAsNew(t *testing.T) {
	r := durable.NewRegistry()
	ok(t, durable.AddOrchestrator(r, "Rounds", func(ctx *durable.OrchestrationContext, n int) (int, error) {
		if err := ctx.CreateTimer(time.Minute).Await(nil); err != nil {
			return 0, err
		}
		if n < 3 {
			ctx.ContinueAsNew(n + 1)
		}
		return n, nil
	}))
	client, clientRec := recording(t)
	worker, rec := recording(t)
	h := New(r)
	h.SetTracer(worker)
	startTraced(t, h, client, "Rounds", "r", 1)
	ok(t, h.Run())
	if s := h.Status("r"); s != history.StatusCompleted {
		t.Fatalf("r is %s, want Completed", s)
	}
	spans := append(clientRec.Ended(), rec.Ended()...)
	checkOneTrace(t, spans)
	wantTree(t, spans, `
create_orchestration Rounds [0s, 0s]
  orchestration Rounds r [0s, 1m0s] ContinuedAsNew
    timer [0s, 1m0s]
  orchestration Rounds r [1m0s, 2m0s] ContinuedAsNew
    timer [1m0s, 2m0s]
  orchestration Rounds r [2m0s, 3m0s] Completed
    timer [2m0s, 3m0s]
`)
}
