package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
)

// poisonLoad is how many orchestrations run and how many poison messages of each kind are
// published straight into the hub's queues while they do.
type poisonLoad struct {
	hellos int
	// counts of poison by kind; see poisonKinds for what each kind is.
	counts map[string]int
}

// poisonKinds are the kinds of poison, each with the reason its dead letter must give.
var poisonKinds = []struct {
	name, reason string
}{
	{"garbage-control", "undecodable control message"},
	{"garbage-workitem", "undecodable activity request"},
	{"schema-control", "unreadable control message"}, // for instances of the run
	{"schema-workitem", "undecodable activity request: no instance id or activity name"},
	{"ghost-control", "has not started"},            // an instance that does not exist
	{"ghost-workitem", "has not started"},           // its activity runs; its result is the dead letter
	{"badid-control", "instance id"},                // an id no store can keep
	{"huge-control", "control message too large"},   // 10 MB
	{"huge-workitem", "activity request too large"}, // 10 MB
}

// hugeBytes is the size of the large poison bodies: RabbitMQ 3.10 takes messages up to its
// max_message_size, 128 MiB by default, so 10 MB goes through the broker.
const hugeBytes = 10 << 20

// poisonLimit is the workers' WARREN_MAX_MESSAGE_BYTES in this test, under hugeBytes.
const poisonLimit = 4 << 20

// Poison at scale (issue 10): malformed control messages and work items published straight
// into the queues during a run of HelloSequences are each dead-lettered with their reason;
// every orchestration completes as if they were not there, no worker exits, and a worker's
// memory stays bounded. The short version publishes ~200 poison messages (two of 10 MB)
// beside 100 orchestrations; WARREN_CHAOS_LONG=1 publishes 1,000 (ten of 10 MB) beside 500.
//
// A well-formed message for an instance that does not exist is not refused at once: the
// worker puts it back to wait for a start that may be behind it (a raise-event can overtake
// the start it follows), and dead-letters it on its 20th delivery, saying so. A Durable
// Functions user would expect the same: an event for a missing instance is never applied
// and never lost silently. A well-formed work item for a missing instance runs (an activity
// does not depend on its orchestration's state), and its result is that dead letter.
func TestPoisonMessagesAreDeadLetteredWhileTheRunGoesOn(t *testing.T) {
	load := poisonLoad{hellos: 100, counts: map[string]int{
		"garbage-control": 30, "garbage-workitem": 30, "schema-control": 40, "schema-workitem": 10,
		"ghost-control": 60, "ghost-workitem": 10, "badid-control": 10, "huge-control": 1, "huge-workitem": 1,
	}}
	if os.Getenv("WARREN_CHAOS_LONG") != "" {
		load = poisonLoad{hellos: 500, counts: map[string]int{
			"garbage-control": 150, "garbage-workitem": 150, "schema-control": 200, "schema-workitem": 100,
			"ghost-control": 300, "ghost-workitem": 50, "badid-control": 40, "huge-control": 5, "huge-workitem": 5,
		}}
	}
	f := fleettest.Start(t, fleettest.Options{Workers: 3,
		// The test reads the dead-letter queue itself: the dispatcher leaves it alone.
		Env: []string{"WARREN_MAX_MESSAGE_BYTES=" + strconv.Itoa(poisonLimit), "WARREN_LEAVE_DEAD_LETTERS=true"}})
	c := client.New(f.URL)
	prefix := testenv.UniqueName("psn")
	ids := make([]string, load.hellos)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	poison := makePoison(f, prefix, ids, load)

	dlq := watchDeadLetters(t, f.Hub)
	mem := watchMemory(t, f.Workers())

	// The orchestrations start 8 at a time; the poison goes out as they do, spread over
	// the starts, in a shuffled order.
	begun := time.Now()
	var started atomic.Int64
	startErrs := make(chan error, len(ids))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		eachOf(ids, func(id string) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := c.Start(ctx, "HelloSequence", id, client.WithInstanceID(id)); err != nil {
				startErrs <- fmt.Errorf("starting %s: %w", id, err)
			}
			started.Add(1)
		})
	}()
	publishPoison(t, poison, func(i int) bool { return started.Load() >= int64(i*len(ids)/len(poison)) })
	published := time.Now()
	wg.Wait()
	close(startErrs)
	for err := range startErrs {
		t.Fatal(err)
	}

	// Every poison message reaches the dead-letter queue; every orchestration ends.
	deadline := time.Now().Add(3 * time.Minute)
	for dlq.present(poison) < len(poison) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	lastDead := dlq.last() // checkDeadLetters says which are missing, if any
	var lastEnd time.Time
	fleettest.WaitUntil(t, 3*time.Minute, "every orchestration ended", func() bool {
		sts, err := c.ListAll(context.Background(), client.ListOptions{Name: "HelloSequence"})
		if err != nil {
			return false
		}
		ended := 0
		for _, st := range sts {
			if st.Status.Terminal() {
				ended++
				lastEnd = later(lastEnd, st.LastUpdatedAt)
			}
		}
		return ended == len(ids)
	})
	mem.stop()

	checkDeadLetters(t, poison, dlq)
	checkHellosUntouched(t, c, ids)

	// No worker exited or was replaced, none panicked, all three still in the live set.
	for _, w := range f.Workers() {
		if w.Exited() {
			t.Errorf("%s exited during the run", w.Name)
		}
		if strings.Contains(f.Logs(w.Name), "panic") {
			t.Errorf("%s logged a panic", w.Name)
		}
	}
	if n := len(f.Workers()); n != 3 {
		t.Errorf("%d worker processes, want the 3 started", n)
	}
	if n := f.LiveWorkers(); n != 3 {
		t.Errorf("%d live workers at the end, want 3", n)
	}

	byKind := map[string]int{}
	for _, p := range poison {
		byKind[p.kind]++
	}
	var kinds []string
	for _, k := range poisonKinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k.name, byKind[k.name]))
	}
	t.Logf("FIGURE: poison: %d messages published straight into the queues beside %d HelloSequences (%s): %d dead-lettered with their reason, the last %s after the last publish; %d orchestrations completed, 0 worker restarts",
		len(poison), len(ids), strings.Join(kinds, ", "), dlq.count(), lastDead.Sub(published).Round(100*time.Millisecond), len(ids))
	t.Logf("FIGURE: poison: the %d HelloSequences ended within %s of the first start, poison and all",
		len(ids), lastEnd.Sub(begun).Round(100*time.Millisecond))
	t.Logf("FIGURE: poison: a message for an instance that does not exist is dead-lettered on its 20th delivery, %s after it was published at the slowest",
		dlq.slowest(poison, "ghost-").Round(100*time.Millisecond))
	mem.report(t)
}

// poisonMessage is one poison message and where its dead letter is expected.
type poisonMessage struct {
	kind     string
	queue    string
	msg      amqp.Publishing
	deadID   string // the id of its dead letter (a ghost work item's: its result's)
	deadFrom string // the queue its dead letter comes from
	reason   string // what the dead letter's reason holds
}

// makePoison builds the poison of load for the fleet's hub, shuffled.
func makePoison(f *fleettest.Fleet, prefix string, ids []string, load poisonLoad) []poisonMessage {
	rng := rand.New(rand.NewPCG(1, 2))
	control := func(instance string) string {
		return queues.ControlQueue(f.Hub, queues.PartitionOf(instance, f.Partitions))
	}
	work := queues.WorkItemQueue(f.Hub)
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	controlBody := func(instance string, ev history.Event) []byte {
		b, _ := json.Marshal(history.ControlMessage{InstanceID: instance, Event: ev})
		return b
	}
	activityBody := func(instance string, input []byte) []byte {
		b, _ := json.Marshal(history.ActivityRequest{InstanceID: instance, ExecutionID: "e1",
			OrchestrationName: "HelloSequence", TaskID: 0, Name: "SayHello", Input: input, Attempt: 1})
		return b
	}
	var out []poisonMessage
	for _, k := range poisonKinds {
		for i := range load.counts[k.name] {
			id := fmt.Sprintf("%s-poison-%s-%04d", prefix, k.name, i)
			ghost := fmt.Sprintf("%s-ghost-%s-%04d", prefix, k.name, i)
			p := poisonMessage{kind: k.name, deadID: id, reason: k.reason}
			p.msg = amqp.Publishing{MessageId: id, DeliveryMode: amqp.Persistent}
			switch k.name {
			case "garbage-control":
				p.queue = control(ghost)
				p.msg.Body = garbage(1 + rng.IntN(4096))
			case "garbage-workitem":
				p.queue = work
				p.msg.Type = history.MessageKindActivity
				p.msg.Body = garbage(1 + rng.IntN(4096))
			case "schema-control":
				// For an instance of the run, so that applied it would change the run: a
				// newer version's result of its first activity, an event without a version,
				// an event of a kind this build does not know.
				target := ids[i%len(ids)]
				ev := []history.Event{
					{Version: history.SchemaVersion + 1, Kind: history.TaskCompleted, TaskID: 1, Result: json.RawMessage(`"forged"`)},
					{Kind: history.EventRaised, Name: "Poison", Input: json.RawMessage(`1`)},
					{Version: history.SchemaVersion, Kind: "TaskRewound", TaskID: 0},
				}[i%3]
				p.queue = control(target)
				p.msg.Type = string(ev.Kind)
				p.msg.Headers = amqp.Table{"x-instance-id": target}
				p.msg.Body = controlBody(target, ev)
			case "schema-workitem":
				p.queue = work
				p.msg.Type = history.MessageKindActivity
				p.msg.Body = []byte(fmt.Sprintf(`{"schema":2,"instance":%q,"activity":"SayHello","input":"x"}`, ids[i%len(ids)]))
			case "ghost-control":
				ev := []history.Event{
					{Version: history.SchemaVersion, Kind: history.EventRaised, Name: "Poison", Input: json.RawMessage(`1`)},
					{Version: history.SchemaVersion, Kind: history.TaskCompleted, TaskID: 0, Result: json.RawMessage(`"x"`)},
					{Version: history.SchemaVersion, Kind: history.TimerFired, TaskID: 1, FireAt: time.Now().UTC()},
				}[i%3]
				p.queue = control(ghost)
				p.msg.Type = string(ev.Kind)
				p.msg.Headers = amqp.Table{"x-instance-id": ghost}
				p.msg.Body = controlBody(ghost, ev)
			case "ghost-workitem":
				p.queue = work
				p.msg.Type = history.MessageKindActivity
				p.msg.Body = activityBody(ghost, []byte(`"ghost"`))
				p.deadID = id + "/result"
				p.deadFrom = control(ghost)
			case "badid-control":
				bad := ghost + "\x00"
				ev := history.Event{Version: history.SchemaVersion, Kind: history.EventRaised, Name: "Poison"}
				p.queue = control(bad)
				p.msg.Type = string(ev.Kind)
				p.msg.Body = controlBody(bad, ev)
			case "huge-control":
				ev := history.Event{Version: history.SchemaVersion, Kind: history.EventRaised, Name: "Poison",
					Input: json.RawMessage(strconv.Quote(strings.Repeat("x", hugeBytes)))}
				p.queue = control(ghost)
				p.msg.Type = string(ev.Kind)
				p.msg.Body = controlBody(ghost, ev)
			case "huge-workitem":
				p.queue = work
				p.msg.Type = history.MessageKindActivity
				p.msg.Body = activityBody(ghost, []byte(strconv.Quote(strings.Repeat("x", hugeBytes))))
			}
			if p.deadFrom == "" {
				p.deadFrom = p.queue
			}
			out = append(out, p)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// publishPoison publishes each message straight into its queue, with a broker confirm,
// the i-th once ready(i) holds, and stamps each with the time it went out.
func publishPoison(t *testing.T, poison []poisonMessage, ready func(i int) bool) {
	t.Helper()
	conn, err := amqp.Dial(testenv.AMQPURL())
	if err != nil {
		t.Fatalf("poison publisher: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("poison publisher: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("poison publisher: confirms: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var pending []*amqp.DeferredConfirmation
	confirm := func() {
		for _, dc := range pending {
			if ok, err := dc.WaitContext(ctx); err != nil || !ok {
				t.Fatalf("poison publisher: the broker did not take a message (ack %v): %v", ok, err)
			}
		}
		pending = pending[:0]
	}
	for i, p := range poison {
		for !ready(i) {
			if ctx.Err() != nil {
				t.Fatal("poison publisher: the orchestrations did not start in time")
			}
			time.Sleep(5 * time.Millisecond)
		}
		poison[i].msg.Timestamp = time.Now() // slowest measures from here
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", p.queue, true, false, poison[i].msg)
		if err != nil {
			t.Fatalf("poison publisher: publishing %s to %s: %v", p.msg.MessageId, p.queue, err)
		}
		if pending = append(pending, dc); len(pending) == 50 || len(p.msg.Body) > 1<<20 {
			confirm()
		}
	}
	confirm()
}

// deadLetter is one message read from the dead-letter queue.
type deadLetter struct {
	reason, source string
	at             time.Time
}

// deadLetters reads the hub's dead-letter queue in the background.
type deadLetters struct {
	mu  sync.Mutex
	got map[string][]deadLetter
	n   int
	end time.Time
}

func watchDeadLetters(t *testing.T, hub string) *deadLetters {
	t.Helper()
	conn, err := amqp.Dial(testenv.AMQPURL())
	if err != nil {
		t.Fatalf("dead-letter reader: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Qos(64, 0, false)
	}
	var deliveries <-chan amqp.Delivery
	if err == nil {
		deliveries, err = ch.Consume(queues.DeadLetterQueue(hub), "", false, false, false, false, nil)
	}
	if err != nil {
		t.Fatalf("dead-letter reader: %v", err)
	}
	dl := &deadLetters{got: map[string][]deadLetter{}}
	go func() {
		for d := range deliveries {
			reason, _ := d.Headers["x-warren-reason"].(string)
			source, _ := d.Headers["x-warren-source-queue"].(string)
			dl.mu.Lock()
			dl.got[d.MessageId] = append(dl.got[d.MessageId], deadLetter{reason: reason, source: source, at: time.Now()})
			dl.n++
			dl.end = time.Now()
			dl.mu.Unlock()
			_ = d.Ack(false)
		}
	}()
	return dl
}

func (dl *deadLetters) count() int {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.n
}

// present counts the poison messages with a dead letter.
func (dl *deadLetters) present(poison []poisonMessage) int {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	n := 0
	for _, p := range poison {
		if len(dl.got[p.deadID]) > 0 {
			n++
		}
	}
	return n
}

func (dl *deadLetters) last() time.Time {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.end
}

// slowest is the longest time from publish to dead letter of the poison whose kind begins
// with prefix.
func (dl *deadLetters) slowest(poison []poisonMessage, prefix string) time.Duration {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	var worst time.Duration
	for _, p := range poison {
		if !strings.HasPrefix(p.kind, prefix) {
			continue
		}
		for _, d := range dl.got[p.deadID] {
			worst = max(worst, d.at.Sub(p.msg.Timestamp))
		}
	}
	return worst
}

// checkDeadLetters checks that each poison message was dead-lettered, from the queue it
// went to, with the reason of its kind, and that nothing else was.
func checkDeadLetters(t *testing.T, poison []poisonMessage, dl *deadLetters) {
	t.Helper()
	dl.mu.Lock()
	defer dl.mu.Unlock()
	expected := map[string]bool{}
	copies := 0
	for _, p := range poison {
		expected[p.deadID] = true
		got := dl.got[p.deadID]
		if len(got) == 0 {
			t.Errorf("%s (%s) was not dead-lettered", p.deadID, p.kind)
			continue
		}
		copies += len(got) - 1 // dead-lettering is at least once
		for _, d := range got {
			if !strings.Contains(d.reason, p.reason) || d.source != p.deadFrom {
				t.Errorf("%s (%s) dead-lettered from %q with reason %q, want from %q with a reason holding %q",
					p.deadID, p.kind, d.source, d.reason, p.deadFrom, p.reason)
			}
		}
	}
	var strays []string
	for id, got := range dl.got {
		if !expected[id] {
			strays = append(strays, fmt.Sprintf("%s from %s: %s", id, got[0].source, got[0].reason))
		}
	}
	slices.Sort(strays)
	for _, s := range strays {
		t.Errorf("a message of the run was dead-lettered: %s", s)
	}
	if copies > 0 {
		t.Logf("%d poison messages were dead-lettered more than once (at least once: an ack lost after the dead-letter publish)", copies)
	}
}

// memoryWatch samples the resident memory (VmRSS) of each worker process.
type memoryWatch struct {
	workers  []*fleettest.Proc
	mu       sync.Mutex
	baseline map[string]int64 // kB, at the start
	peak     map[string]int64 // kB
	hwm      map[string]int64 // kB, the kernel's own peak (VmHWM) when the watch stopped
	done     chan struct{}
	stopped  chan struct{}
}

func watchMemory(t *testing.T, workers []*fleettest.Proc) *memoryWatch {
	t.Helper()
	m := &memoryWatch{workers: workers, baseline: map[string]int64{}, peak: map[string]int64{}, hwm: map[string]int64{},
		done: make(chan struct{}), stopped: make(chan struct{})}
	for _, w := range workers {
		rss, err := procStatusKB(w.Pid(), "VmRSS")
		if err != nil {
			t.Fatalf("reading %s's memory: %v", w.Name, err)
		}
		m.baseline[w.Name], m.peak[w.Name] = rss, rss
	}
	go func() {
		defer close(m.stopped)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-tick.C:
			}
			m.mu.Lock()
			for _, w := range m.workers {
				if rss, err := procStatusKB(w.Pid(), "VmRSS"); err == nil {
					m.peak[w.Name] = max(m.peak[w.Name], rss)
				}
			}
			m.mu.Unlock()
		}
	}()
	t.Cleanup(m.stop)
	return m
}

func (m *memoryWatch) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	close(m.done)
	<-m.stopped
	for _, w := range m.workers {
		if hwm, err := procStatusKB(w.Pid(), "VmHWM"); err == nil {
			m.hwm[w.Name] = hwm
		}
	}
}

func (m *memoryWatch) report(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var parts []string
	var top int64
	for _, w := range m.workers {
		parts = append(parts, fmt.Sprintf("%s %d MiB (from %d MiB; kernel peak %d MiB)", w.Name,
			m.peak[w.Name]>>10, m.baseline[w.Name]>>10, m.hwm[w.Name]>>10))
		top = max(top, m.peak[w.Name], m.hwm[w.Name])
	}
	t.Logf("FIGURE: poison: worker peak RSS %d MiB with %d MiB bodies in the queues and WARREN_MAX_MESSAGE_BYTES=%d MiB: %s",
		top>>10, hugeBytes>>20, poisonLimit>>20, strings.Join(parts, ", "))
}

// procStatusKB reads one "<field>: <n> kB" line of /proc/<pid>/status.
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte(field+":")); ok {
			fields := strings.Fields(string(rest))
			if len(fields) == 0 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// checkHellosUntouched reads each HelloSequence's history, 8 at a time, and checks that it
// completed with its five greetings, each activity result applied once, and that no poison
// event reached it.
func checkHellosUntouched(t *testing.T, c *client.Client, ids []string) {
	t.Helper()
	problems := make(chan string, 8*len(ids)) // room for every problem of every instance
	eachOf(ids, func(id string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		h, err := historyOf(ctx, c, id)
		if err != nil {
			problems <- fmt.Sprintf("history of %s: %v", id, err)
			return
		}
		greeting := strconv.Quote(strings.Repeat(" Hello, "+id+"!", 5)[1:])
		if h.Status.Status != history.StatusCompleted || string(h.Output) != greeting {
			problems <- fmt.Sprintf("%s ended %s with %s (failure %+v), want Completed with %s", id, h.Status.Status, h.Output, h.Failure, greeting)
		}
		for _, e := range h.History {
			if e.Version != history.VersionOf(e.Kind) || e.Kind == history.EventRaised {
				problems <- fmt.Sprintf("%s: a poison event reached its history: %+v", id, e)
			}
		}
		wrong, _ := helloResults(id, h.History)
		for _, p := range wrong {
			problems <- p
		}
	})
	close(problems)
	for p := range problems {
		t.Error(p)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
