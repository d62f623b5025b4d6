package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"time"

	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/worker"
)

// Options choose a run.
type Options struct {
	Seed uint64
	// NoFaults plays the workloads without injecting any fault.
	NoFaults bool
	// MaxSteps bounds the scheduler's steps; a run that needs more is a livelock (default
	// 200,000).
	MaxSteps int
	// StepTimeout is how long, in real time, one step may take before the run counts as
	// stalled (a deadlock in the code under test; default 10 s).
	StepTimeout time.Duration
	// Trace, when set, receives one line per step (SIM_TRACE=1 with SIM_SEED).
	Trace io.Writer
}

// Failure is a run whose invariants did not hold. Replaying its seed repeats it exactly.
type Failure struct {
	Seed     uint64
	Problems []string
	// Schedule lists the faults injected, in order, at their virtual times.
	Schedule []string
}

func (f *Failure) Error() string {
	schedule := f.Schedule
	if len(schedule) == 0 {
		schedule = []string{"(no faults)"}
	}
	return fmt.Sprintf("sim: seed %d: %s\nfault schedule:\n  %s\nreplay with: SIM_SEED=%d make sim",
		f.Seed, strings.Join(f.Problems, "\n  "), strings.Join(schedule, "\n  "), f.Seed)
}

// Stats describe a run that passed.
type Stats struct {
	Steps     int
	Faults    int
	Instances int
	Virtual   time.Duration
}

const (
	hub        = "sim"
	partitions = 4
	epoch0     = "2026-01-01T00:00:00Z"
)

// world is everything one run holds.
type world struct {
	opts     Options
	rng      *rand.Rand
	clock    time.Time
	start    time.Time
	store    *memstore.Store
	broker   *membroker.Broker
	disp     http.Handler
	reg      *durable.Registry
	nodes    []*node
	born     int
	expects  []expect
	starting []expect // not yet accepted by the dispatcher
	clients  []client
	ctrlNext map[string]int  // instance id → actions of its control clients taken
	accepted map[string]bool // instance ids whose start the dispatcher accepted
	// rewinding marks the instances a client rewinds whenever they fail: Failed is not
	// their end while it acts.
	rewinding map[string]bool

	runs     map[string]int // work item id → runs
	faults   int
	budget   int
	lostAcks int
	outage   time.Time // the store fails every operation until then
	schedule []string
	problems []string
	stalled  bool
	progress time.Time // the virtual time of the last step that did something
	// nextClient is when the user acts next.
	nextClient time.Time
}

// Run plays one seed and checks its invariants: nil, or a *Failure.
func Run(opts Options) error {
	_, err := RunStats(opts)
	return err
}

// RunStats is Run that also returns what the run did.
func RunStats(opts Options) (Stats, error) {
	if opts.MaxSteps == 0 {
		opts.MaxSteps = 200_000
	}
	if opts.StepTimeout == 0 {
		opts.StepTimeout = 10 * time.Second
	}
	w, err := newWorld(opts)
	if err != nil {
		return Stats{}, err
	}
	steps := w.loop()
	if !w.stalled {
		w.check()
		// Stop the consumers' goroutines: each holds the whole run.
		for _, n := range w.nodes {
			n.link.close()
		}
	}
	st := Stats{Steps: steps, Faults: w.faults, Instances: len(w.expects), Virtual: w.clock.Sub(w.start)}
	if len(w.problems) > 0 {
		return st, &Failure{Seed: opts.Seed, Problems: w.problems, Schedule: w.schedule}
	}
	return st, nil
}

func newWorld(opts Options) (*world, error) {
	t0, _ := time.Parse(time.RFC3339, epoch0)
	w := &world{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)), clock: t0, start: t0,
		runs: map[string]int{}, ctrlNext: map[string]int{}, accepted: map[string]bool{},
		rewinding: map[string]bool{}}
	if !opts.NoFaults {
		w.budget = w.rng.IntN(10)
	}
	w.store = memstore.New(memstore.Options{Now: w.now, Faults: func(op memstore.Op) memstore.Fault {
		if op.Kind == memstore.OpEnsureHub {
			return memstore.Fault{} // the fleet's setup, before the run
		}
		return w.storeFault(op)
	}})
	if err := w.store.EnsureHub(context.Background(), partitions); err != nil {
		return nil, err
	}
	w.broker = membroker.New(membroker.Options{Hub: hub, Partitions: partitions, Now: w.now, Faults: w.brokerFault,
		ControlDeliveryLimit: queues.DefaultControlDeliveryLimit})
	reg, err := registry()
	if err != nil {
		return nil, err
	}
	w.reg = reg
	d, err := dispatcher.New(dispatcher.Config{Hub: hub, Partitions: partitions, Logger: discard(),
		WorkerMaxAge: 5 * time.Second}, w.store, w.broker.Connect("dispatcher"))
	if err != nil {
		return nil, err
	}
	w.disp = d.Handler()
	for range 2 + w.rng.IntN(2) {
		w.join()
	}
	for _, wl := range workloads(w) {
		w.expects = append(w.expects, wl.starts...)
		w.clients = append(w.clients, wl.clients...)
	}
	w.starting = append([]expect(nil), w.expects...)
	return w, nil
}

func (w *world) now() time.Time { return w.clock }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// join starts a worker process.
func (w *world) join() *node {
	w.born++
	id := fmt.Sprintf("w%d", w.born)
	n := &node{id: id, link: newLink(w.broker, id)}
	if !w.opts.NoFaults && w.rng.IntN(3) == 0 {
		n.skew = time.Duration(w.rng.IntN(120)-60) * time.Second // clocks that disagree
	}
	cfg := worker.Config{Hub: hub, Partitions: partitions, WorkerID: id, ActivityConcurrency: 4,
		ControlPrefetch: 8 + w.rng.IntN(24), HeartbeatInterval: time.Second, DeadAfter: 5 * time.Second,
		CacheSize: 4 + w.rng.IntN(64), TimerGrace: 30 * time.Second, Logger: discard(),
		Now: func() time.Time { return w.clock.Add(n.skew) }}
	if w.rng.IntN(2) == 0 {
		// Half the workers send every activity through the work-item queue; the others run
		// their own in place (the default), and hand the slow ones to the queue.
		cfg.InPlaceActivities = -1
	} else if w.rng.IntN(3) == 0 {
		// A third of those fold nothing: each result run in place reports in an episode of
		// its own.
		cfg.InPlaceWait = -1
	}
	wk, err := worker.New(cfg, w.store, n.link, w.reg)
	if err != nil {
		panic(err) // the configuration above is valid
	}
	n.w = wk
	n.steps = wk.Steps(func(point string) bool {
		if n.crashPoint == point {
			n.crashPoint = ""
			n.dead = true
			return true
		}
		return false
	})
	if err := n.steps.Subscribe(context.Background()); err != nil {
		panic(err)
	}
	n.nextBeat, n.nextSweep = w.clock, w.clock.Add(10*time.Second)
	w.nodes = append(w.nodes, n)
	return n
}

func (w *world) live() []*node {
	var out []*node
	for _, n := range w.nodes {
		if !n.dead {
			out = append(out, n)
		}
	}
	return out
}

// bury ends a node whose process died: its connection closes, so the broker takes back
// what it had not settled; its heartbeat ages out.
func (w *world) bury(n *node) {
	n.dead = true
	n.link.close()
}

// action is one thing the scheduler may do next.
type action struct {
	label  string
	weight int
	do     func()
}

// loop runs the scheduler until the run is over; it returns the number of steps.
func (w *world) loop() int {
	deadline := w.start.Add(72 * time.Hour)
	for step := 0; step < w.opts.MaxSteps; step++ {
		w.broker.Tick()
		w.timed()
		if w.stalled {
			return step
		}
		acts := w.actions()
		if len(acts) == 0 {
			next := w.nextEvent()
			if (w.done() && !w.queued()) || next.IsZero() || next.After(deadline) {
				return step
			}
			w.clock = next
			continue
		}
		w.progress = w.clock
		if w.rng.IntN(25) == 0 {
			w.clock = w.clock.Add(time.Duration(w.rng.IntN(400)) * time.Millisecond)
		}
		a := pick(w.rng, acts)
		if w.opts.Trace != nil {
			fmt.Fprintf(w.opts.Trace, "%d %s %s\n", step, w.clock.Sub(w.start), a.label)
		}
		w.guard(a.label, a.do)
		if w.stalled {
			return step
		}
		for _, n := range w.nodes {
			if n.dead && n.steps != nil {
				w.note("%s died at a crash point", n.id)
				w.bury(n)
				n.steps = nil
			}
		}
		if len(w.live()) == 0 {
			w.join()
		}
	}
	var waiting []string
	for _, e := range w.starting {
		waiting = append(waiting, e.id)
	}
	w.problems = append(w.problems, fmt.Sprintf("livelock: %d steps without the run settling (a hot loop?); starts not accepted: %v; clients still acting: %d",
		w.opts.MaxSteps, waiting, len(w.clients)))
	return w.opts.MaxSteps
}

// guard runs one step and detects a step that never returns: a deadlock in the code under
// test is otherwise invisible to a single-threaded scheduler.
func (w *world) guard(label string, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(w.opts.StepTimeout):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		w.problems = append(w.problems, fmt.Sprintf("stall: step %q did not return within %s (deadlock?); goroutines:\n%s",
			label, w.opts.StepTimeout, firstLines(string(buf), 80)))
		w.stalled = true
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func pick(rng *rand.Rand, acts []action) action {
	total := 0
	for _, a := range acts {
		total += a.weight
	}
	r := rng.IntN(total)
	for _, a := range acts {
		if r < a.weight {
			return a
		}
		r -= a.weight
	}
	return acts[len(acts)-1]
}

// timed runs what the virtual clock has made due: heartbeats and timer sweeps.
func (w *world) timed() {
	for _, n := range w.live() {
		if !n.nextBeat.After(w.clock) {
			n.nextBeat = w.clock.Add(time.Second)
			w.guard(n.id+" heartbeat", func() { n.steps.Heartbeat(context.Background()) })
		}
		if !n.nextSweep.After(w.clock) && !w.stalled {
			n.nextSweep = w.clock.Add(10 * time.Second)
			w.guard(n.id+" timer sweep", func() { n.steps.SweepTimers(context.Background()) })
		}
	}
}

// nextEvent is the next virtual time at which something is due, zero if nothing is.
func (w *world) nextEvent() time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && t.After(w.clock) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if t, ok := w.broker.NextDue(); ok {
		consider(t)
	}
	if !w.outage.IsZero() {
		consider(w.outage)
	}
	for _, n := range w.live() {
		if n.steps.Inbox() > 0 {
			consider(n.pauseUntil)
		}
	}
	if len(w.starting) > 0 || len(w.clients) > 0 {
		consider(w.nextClient)
	}
	// Heartbeats and sweeps matter while something may still move: a worker's death is
	// noticed DeadAfter later, a lost timer is sent again after TimerGrace. Long after the
	// last step that did something, only the broker's timers can wake the fleet.
	if w.clock.Sub(w.progress) < 5*time.Minute && (len(w.starting) > 0 || len(w.clients) > 0 || !w.done() || w.queued()) {
		for _, n := range w.live() {
			consider(n.nextBeat)
			consider(n.nextSweep)
		}
	}
	return next
}

// queued reports whether a message waits in a queue other than the dead-letter queue (not a
// timer on the ladder): the fleet is not settled until the owner of its partition takes it.
func (w *world) queued() bool {
	for _, q := range w.broker.Queues() {
		if q == queues.DeadLetterQueue(hub) {
			continue
		}
		for _, m := range w.broker.Pending(q) {
			if m.Kind != string(history.TimerFired) {
				return true
			}
		}
	}
	return false
}

// actions lists what may happen next.
func (w *world) actions() []action {
	var acts []action
	for _, r := range w.broker.Ready() {
		acts = append(acts, action{label: "deliver " + r.Queue + " to " + r.Conn, weight: 6, do: func() { w.broker.Deliver(r) }})
	}
	for _, n := range w.live() {
		if n.steps.Inbox() > 0 && !w.clock.Before(n.pauseUntil) {
			acts = append(acts, action{label: n.id + " batch", weight: 4, do: func() { n.batch(w.clock) }})
		}
		if n.steps.DocsOwed() > 0 {
			acts = append(acts, action{label: n.id + " write documents", weight: 3, do: func() {
				n.steps.FlushDocs(context.Background())
			}})
		}
		if k := n.steps.Activities(); k > 0 {
			i := w.rng.IntN(k)
			acts = append(acts, action{label: n.id + " activity", weight: 4, do: func() {
				w.runs[n.steps.RunActivity(context.Background(), i)]++
			}})
		}
	}
	if (len(w.starting) > 0 || len(w.clients) > 0) && !w.clock.Before(w.nextClient) {
		acts = append(acts, action{label: "client", weight: 2, do: w.clientStep})
	}
	if w.faults < w.budget && len(acts) > 0 {
		acts = append(acts, w.faultActions()...)
	}
	return acts
}

// done reports whether every expected instance has ended and nothing more is to come.
func (w *world) done() bool {
	if len(w.starting) > 0 || len(w.clients) > 0 {
		return false
	}
	return w.allEnded()
}

// allEnded reports whether every expected instance has ended.
func (w *world) allEnded() bool {
	for _, e := range w.expects {
		inst, err := w.store.GetInstance(context.Background(), e.id)
		if err != nil || !inst.Status.Terminal() || (inst.Status == history.StatusFailed && w.rewinding[e.id]) {
			return false
		}
	}
	return true
}

// clientStep is the user: it starts what is not started yet and runs the clients.
func (w *world) clientStep() {
	w.nextClient = w.clock.Add(250 * time.Millisecond) // a user does not hammer the API
	var still []expect
	for _, e := range w.starting {
		if w.startInstance(e) {
			w.accepted[e.id] = true
		} else {
			still = append(still, e)
		}
	}
	w.starting = still
	var live []client
	for _, c := range w.clients {
		if c(w) {
			live = append(live, c)
		}
	}
	w.clients = live
	if len(w.starting) == 0 && w.allEnded() {
		// Every instance has ended: what the user still waited for (an event for a child
		// that never ran, its parent having failed) will not come.
		w.clients = nil
	}
}

// startInstance asks the dispatcher to start e; it reports whether the start is settled
// (accepted, or found to exist). A start whose outcome the dispatcher could not confirm
// and that it gave up on (StartNotQueued) is started again, as a user would.
func (w *world) startInstance(e expect) bool {
	in, _ := json.Marshal(e.input)
	body, _ := json.Marshal(map[string]any{"name": e.name, "instanceId": e.id, "input": json.RawMessage(in)})
	code := w.request(http.MethodPost, "/v1/instances", string(body))
	switch code {
	case http.StatusAccepted:
		return true
	case http.StatusConflict:
		inst, err := w.store.GetInstance(context.Background(), e.id)
		return err == nil && !(inst.Failure != nil && inst.Failure.Type == "StartNotQueued")
	}
	return false
}

func (w *world) raise(id, event string, data any) bool {
	b, _ := json.Marshal(data)
	return w.post("/v1/instances/"+id+"/events/"+event, string(b))
}

func (w *world) post(path, body string) bool {
	code := w.request(http.MethodPost, path, body)
	return code >= 200 && code < 300
}

// controlTurn keeps an instance's control actions in the order suspend, resume, terminate.
func (w *world) controlTurn(id, action string) bool {
	order := []string{"suspend", "resume", "terminate"}
	return order[w.ctrlNext[id]%len(order)] == action
}

func (w *world) request(method, path, body string) int {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	w.disp.ServeHTTP(rec, req)
	_, _ = io.Copy(io.Discard, rec.Body)
	return rec.Code
}

func (w *world) note(format string, args ...any) {
	w.schedule = append(w.schedule, fmt.Sprintf("%8s  ", w.clock.Sub(w.start).Truncate(time.Millisecond))+fmt.Sprintf(format, args...))
}
