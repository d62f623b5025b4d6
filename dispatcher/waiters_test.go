package dispatcher

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/scrape"
	"github.com/warrenhq/warren/internal/testenv"
	"github.com/warrenhq/warren/queues"
)

func TestWaitersWakeOnlyTheirInstance(t *testing.T) {
	w := newWaiters()
	a, forgetA := w.add("a")
	defer forgetA()
	b, forgetB := w.add("b")
	defer forgetB()
	w.wake("a", nil)
	select {
	case got := <-a:
		if got != nil {
			t.Fatalf("woken with %+v by an announcement without a document", got)
		}
	default:
		t.Fatal("the waiter of a was not woken")
	}
	select {
	case <-b:
		t.Fatal("the waiter of b was woken by a's notice")
	default:
	}
	forgetB()
	w.wake("b", nil) // after forget: nothing to wake, no panic
}

// A dispatcher opened on real services hears a worker's announcement that an instance ended.
func TestOpenListensForEndedInstances(t *testing.T) {
	testenv.RequireRabbitMQ(t)
	testenv.RequireMongo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hub := testenv.UniqueName("wake")
	d, err := Open(ctx, Config{AMQPURL: testenv.AMQPURL(), MongoURI: testenv.MongoURI(), Hub: hub, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := queues.Dial(ctx, queues.Config{URL: testenv.AMQPURL(), Hub: hub, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		_ = conn.DeleteTopology(context.Background())
		conn.Close()
		if s, err := mongostore.Open(context.Background(), mongostore.Options{URI: testenv.MongoURI(), Hub: hub}); err == nil {
			_ = s.DropHub(context.Background())
			s.Close(context.Background())
		}
	})
	ended, forget := d.waiters.add("instance-1")
	defer forget()
	if n := scrapeDispatcher(t, d).Value("warren_dispatcher_waiters"); n != 1 {
		t.Fatalf("warren_dispatcher_waiters = %v, want 1", n)
	}
	doc, _ := json.Marshal(history.Instance{InstanceID: "instance-1", ExecutionID: "e1", Status: history.StatusCompleted,
		Output: json.RawMessage(`"done"`), Executions: 1, LastEpisode: 3})
	if err := conn.Announce(ctx, queues.Message{Kind: history.MessageKindEnded, InstanceID: "instance-1", Body: doc}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ended:
		if got == nil || got.Status != history.StatusCompleted || string(got.Output) != `"done"` {
			t.Fatalf("woken with %+v, want the announced document", got)
		}
	case <-ctx.Done():
		t.Fatal("the announcement did not reach the dispatcher's waiter")
	}
	m := scrapeDispatcher(t, d)
	if a, n := m.Value("warren_dispatcher_announcements_total"), m.Value("warren_dispatcher_waiters"); a != 1 || n != 0 {
		t.Fatalf("announcements %v and waiters %v, want 1 and 0", a, n)
	}

	// Another dispatcher restarts or purges it: this one hears of the change and forgets
	// the end it kept, so that a wait reads the store.
	if _, ok := d.waiters.announcedEnd("instance-1"); !ok {
		t.Fatal("the announced end is not kept")
	}
	other, err := Open(ctx, Config{AMQPURL: testenv.AMQPURL(), MongoURI: testenv.MongoURI(), Hub: hub, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.announceChanged(ctx, "instance-1")
	for {
		if _, ok := d.waiters.announcedEnd("instance-1"); !ok {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the other dispatcher's change did not reach this one")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// scrapeDispatcher reads the dispatcher's /metrics as Prometheus would.
func scrapeDispatcher(t *testing.T, d *Dispatcher) scrape.Samples {
	t.Helper()
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m, err := scrape.Parse(rec.Body)
	if rec.Code != http.StatusOK || err != nil {
		t.Fatalf("/metrics: %d %v", rec.Code, err)
	}
	return m
}

func TestAnnouncedDocument(t *testing.T) {
	ended, _ := json.Marshal(history.Instance{InstanceID: "a", Status: history.StatusFailed, Executions: 1, LastEpisode: 2})
	running, _ := json.Marshal(history.Instance{InstanceID: "a", Status: history.StatusRunning})
	cases := []struct {
		name string
		id   string
		body []byte
		want bool
	}{
		{"ended document", "a", ended, true},
		{"empty body", "a", nil, false},
		{"not JSON", "a", []byte("{"), false},
		{"another instance's", "b", ended, false},
		{"not ended", "a", running, false},
	}
	for _, c := range cases {
		got := announced(c.id, c.body)
		if (got != nil) != c.want || got != nil && (got.Status != history.StatusFailed || got.LastEpisode != 2) {
			t.Errorf("%s: %+v, want a document: %v", c.name, got, c.want)
		}
	}
}

// waitUntilWaiting polls until a wait request for id has registered.
func waitUntilWaiting(t *testing.T, w *waiters, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		n := len(w.m[id])
		w.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no wait request for %q registered", id)
		}
		time.Sleep(time.Millisecond)
	}
}

// An announcement that carries the ended document answers the waiter with it, though the
// store's document (a read model that may lag) still says Running; one without a document
// sends the waiter to the store; one about an older execution does not end the wait.
func TestWaitAnswersFromTheAnnouncement(t *testing.T) {
	r := newRig(t, Config{})
	wait := func(id, timeout string) chan answer {
		out := make(chan answer, 1)
		go func() { out <- r.do("GET", "/v1/instances/"+id+"/wait?timeout="+timeout, "") }()
		waitUntilWaiting(t, r.d.waiters, id)
		return out
	}
	get := func(ch chan answer) answer {
		t.Helper()
		select {
		case a := <-ch:
			return a
		case <-time.After(10 * time.Second):
			t.Fatal("the wait did not answer")
		}
		return answer{}
	}

	seed(r.store, "lagging", history.StatusRunning)
	ch := wait("lagging", "30s")
	doc := r.store.instances["lagging"]
	doc.Status, doc.Output, doc.LastEpisode = history.StatusCompleted, json.RawMessage(`"hi"`), 4
	r.d.waiters.wake("lagging", &doc)
	if a := get(ch); a.code != 200 || a.status(t).Status != history.StatusCompleted || string(a.status(t).Output) != `"hi"` {
		t.Fatalf("wait woken with the ended document: %d %s", a.code, a.body)
	}
	if inst, _ := r.store.GetInstance(context.Background(), "lagging"); inst.Status != history.StatusRunning {
		t.Fatalf("the store changed: %+v", inst)
	}

	seed(r.store, "large", history.StatusRunning)
	ch = wait("large", "30s")
	r.store.mu.Lock()
	inst := r.store.instances["large"]
	inst.Status, inst.LastEpisode = history.StatusTerminated, 2
	r.store.instances["large"] = inst
	r.store.mu.Unlock()
	r.d.waiters.wake("large", nil)
	if a := get(ch); a.code != 200 || a.status(t).Status != history.StatusTerminated {
		t.Fatalf("wait woken without a document: %d %s", a.code, a.body)
	}

	seed(r.store, "restarted", history.StatusRunning)
	r.store.mu.Lock()
	inst = r.store.instances["restarted"]
	inst.Executions = 2
	r.store.instances["restarted"] = inst
	r.store.mu.Unlock()
	ch = wait("restarted", "300ms")
	old := inst
	old.Executions, old.Status = 1, history.StatusCompleted
	r.d.waiters.wake("restarted", &old)
	if a := get(ch); a.code != http.StatusRequestTimeout || a.errorBody(t).Status.Status != history.StatusRunning {
		t.Fatalf("wait woken by an older execution's end: %d %s", a.code, a.body)
	}
}

// A wait that registers just after its instance's end was announced is answered from the
// announced document at once; one registering after recentFor is not.
func TestWaiterRegisteredAfterTheAnnouncement(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	w := newWaiters()
	w.now = func() time.Time { return now }
	done := &history.Instance{InstanceID: "x", Status: history.StatusCompleted, LastEpisode: 3, Executions: 1}
	w.wake("x", done)
	ch, forget := w.add("x")
	select {
	case got := <-ch:
		if got == nil || got.Status != history.StatusCompleted {
			t.Fatalf("got %+v, want the announced Completed document", got)
		}
	default:
		t.Fatal("a wait registered right after the announcement was not answered")
	}
	forget()
	now = now.Add(recentFor)
	ch, forget = w.add("x")
	defer forget()
	select {
	case got := <-ch:
		t.Fatalf("a wait registered %s after the announcement got %+v, want nothing", recentFor, got)
	default:
	}
}

// The announced documents kept are bounded.
func TestRecentEndsAreBounded(t *testing.T) {
	w := newWaiters()
	for i := range maxRecent + 10 {
		id := fmt.Sprintf("i-%d", i)
		w.wake(id, &history.Instance{InstanceID: id, Status: history.StatusCompleted})
	}
	if len(w.ended.m) > maxRecent || len(w.ended.order) > maxRecent {
		t.Fatalf("%d kept (%d in order), want at most %d", len(w.ended.m), len(w.ended.order), maxRecent)
	}
	if _, ok := w.ended.m["i-0"]; ok {
		t.Fatal("the oldest announcement is still kept")
	}
}

// A wait for an instance this dispatcher has just started reads nothing from the store: the
// announcement of its end answers it. One whose timeout passes first reads the status it
// reports then, not the document written at the start.
func TestWaitForAnInstanceStartedHereReadsNothing(t *testing.T) {
	r := newRig(t, Config{})
	if a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"here"}`); a.code != http.StatusAccepted {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	r.store.mu.Lock()
	r.store.reads = 0
	r.store.mu.Unlock()
	out := make(chan answer, 1)
	go func() { out <- r.do("GET", "/v1/instances/here/wait?timeout=30s", "") }()
	waitUntilWaiting(t, r.d.waiters, "here")
	r.store.mu.Lock()
	doc := r.store.instances["here"]
	r.store.mu.Unlock()
	doc.Status, doc.Output, doc.LastEpisode = history.StatusCompleted, json.RawMessage(`"hi"`), 2
	r.d.waiters.wake("here", &doc)
	select {
	case a := <-out:
		if a.code != 200 || a.status(t).Status != history.StatusCompleted {
			t.Fatalf("wait: %d %s", a.code, a.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not answer")
	}
	r.store.mu.Lock()
	reads := r.store.reads
	r.store.mu.Unlock()
	if reads != 0 {
		t.Fatalf("the wait read the store %d times, want none", reads)
	}

	if a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"busy"}`); a.code != http.StatusAccepted {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	r.store.mu.Lock()
	busy := r.store.instances["busy"]
	busy.Status, busy.LastEpisode = history.StatusRunning, 1 // a worker has begun it
	r.store.instances["busy"] = busy
	r.store.mu.Unlock()
	a := r.do("GET", "/v1/instances/busy/wait?timeout=200ms", "")
	if a.code != http.StatusRequestTimeout || a.errorBody(t).Status.Status != history.StatusRunning {
		t.Fatalf("timed-out wait: %d %s, want 408 reporting Running", a.code, a.body)
	}
}

// A wait for an instance whose end was announced, and then a change of it (a restart
// through another dispatcher), reads the store: the announced end is of the execution before.
func TestWaitAfterAnAnnouncedChangeReads(t *testing.T) {
	r := newRig(t, Config{})
	if a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"again"}`); a.code != http.StatusAccepted {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	r.store.mu.Lock()
	first := r.store.instances["again"]
	r.store.mu.Unlock()
	first.Status, first.LastEpisode = history.StatusCompleted, 2
	r.d.waiters.wake("again", &first) // the first execution ends
	r.d.waiters.changed("again")      // another dispatcher's announcement of its restart
	r.store.mu.Lock()
	second := r.store.instances["again"]
	second.Executions, second.ExecutionID, second.Status, second.LastEpisode = 2, "e2", history.StatusRunning, 0
	r.store.instances["again"] = second // and is restarted
	r.store.mu.Unlock()
	a := r.do("GET", "/v1/instances/again/wait?timeout=200ms", "")
	if a.code != http.StatusRequestTimeout || a.errorBody(t).Status.Status != history.StatusRunning {
		t.Fatalf("wait after a restart: %d %s, want 408 reporting the second execution Running", a.code, a.body)
	}
}

// A wait that begins after its instance's end was announced answers from the announced
// document without reading the store; once this dispatcher has restarted the instance or
// purged it, the announced end no longer answers.
func TestWaitAfterAnAnnouncedEndReadsNothing(t *testing.T) {
	r := newRig(t, Config{})
	seed(r.store, "ended", history.StatusRunning)
	r.store.mu.Lock()
	doc := r.store.instances["ended"]
	r.store.reads = 0
	r.store.mu.Unlock()
	doc.Status, doc.Output, doc.LastEpisode = history.StatusCompleted, json.RawMessage(`"hi"`), 4
	r.d.waiters.wake("ended", &doc)
	waitAnsweredByAnnouncement(t, r, "ended", "30s")

	r.d.announceChanged(context.Background(), "ended") // as a restart or purge through this dispatcher does
	a := r.do("GET", "/v1/instances/ended/wait?timeout=200ms", "")
	if a.code != http.StatusRequestTimeout || a.errorBody(t).Status.Status != history.StatusRunning {
		t.Fatalf("wait after a restart here: %d %s, want 408 reporting what the store holds (Running)", a.code, a.body)
	}
}

// A start here forgets an end announced for an earlier instance under the same id.
func TestStartHereForgetsAnEarlierEnd(t *testing.T) {
	w := newWaiters()
	w.wake("x", &history.Instance{InstanceID: "x", ExecutionID: "e1", Status: history.StatusCompleted, LastEpisode: 3, Executions: 1})
	if _, ok := w.announcedEnd("x"); !ok {
		t.Fatal("the end just announced is not kept")
	}
	w.startedHere(&history.Instance{InstanceID: "x", ExecutionID: "e2", Status: history.StatusPending, Executions: 2})
	if got, ok := w.announcedEnd("x"); ok {
		t.Fatalf("after a new start here the earlier end is still kept: %+v", got)
	}
	if doc, ok := w.startDoc("x"); !ok || doc.Status != history.StatusPending {
		t.Fatalf("startDoc after the new start: %+v %v, want the Pending start document", doc, ok)
	}

	// The id purged and created again: the end of the incarnation before counts more
	// executions than the new start, and is forgotten all the same.
	before := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	w.wake("y", &history.Instance{InstanceID: "y", ExecutionID: "e5", Status: history.StatusCompleted, Executions: 5, CreatedAt: before})
	w.startedHere(&history.Instance{InstanceID: "y", ExecutionID: "f1", Status: history.StatusPending, Executions: 1, CreatedAt: before.Add(time.Second)})
	if got, ok := w.announcedEnd("y"); ok {
		t.Fatalf("after the id was created again the end of the incarnation before is still kept: %+v", got)
	}
}

// A change announced without an instance (a bulk or recursive purge) forgets every end and
// start kept.
func TestAChangeOfManyForgetsEverything(t *testing.T) {
	w := newWaiters()
	for _, id := range []string{"a", "b"} {
		w.startedHere(&history.Instance{InstanceID: id, Status: history.StatusPending})
		w.wake(id, &history.Instance{InstanceID: id, Status: history.StatusCompleted, LastEpisode: 3, Executions: 1})
	}
	w.changed("")
	for _, id := range []string{"a", "b"} {
		if _, ok := w.announcedEnd(id); ok {
			t.Fatalf("the end of %s is still kept", id)
		}
		if _, ok := w.startDoc(id); ok {
			t.Fatalf("the start of %s is still kept", id)
		}
	}
}

// A purge through the API forgets the end kept of the instance; a refused one does not.
func TestPurgeForgetsTheKeptEnd(t *testing.T) {
	r := newRig(t, Config{})
	for _, c := range []struct {
		id     string
		status history.Status
		code   int
		kept   bool
	}{
		{"done", history.StatusCompleted, http.StatusNoContent, false},
		{"busy", history.StatusRunning, http.StatusConflict, true},
	} {
		seed(r.store, c.id, c.status)
		r.d.waiters.wake(c.id, &history.Instance{InstanceID: c.id, Status: history.StatusCompleted, LastEpisode: 3, Executions: 1})
		if a := r.do("DELETE", "/v1/instances/"+c.id, ""); a.code != c.code {
			t.Fatalf("purge %s: %d %s, want %d", c.id, a.code, a.body, c.code)
		}
		if _, kept := r.d.waiters.announcedEnd(c.id); kept != c.kept {
			t.Fatalf("after purging %s (%d) the end is kept: %v, want %v", c.id, c.code, kept, c.kept)
		}
	}
}

// The start message goes out before the start is recorded here, so a quick instance can
// end, and its end be announced, in between: a wait that follows the start is answered
// from that announcement at once, not by a safety read seconds later.
func TestWaitForAnInstanceThatEndedBeforeItsStartAnswered(t *testing.T) {
	r := newRig(t, Config{})
	r.broker.onPublish = func(int) {
		// A worker runs the start as soon as it is queued, ends the instance and announces
		// its end, before the broker's confirm reaches the dispatcher.
		r.store.mu.Lock()
		doc := r.store.instances["quick"]
		r.store.mu.Unlock()
		doc.Status, doc.Output, doc.LastEpisode = history.StatusCompleted, json.RawMessage(`"hi"`), 2
		r.d.waiters.wake("quick", &doc)
	}
	if a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"quick"}`); a.code != http.StatusAccepted {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	r.store.mu.Lock()
	r.store.reads = 0
	r.store.mu.Unlock()
	// The store's document lags: it still says Pending.
	waitAnsweredByAnnouncement(t, r, "quick", "300ms")
}

// The same, when the quick instance continued as new and its next execution ended in that
// gap.
func TestWaitForAnInstanceThatContinuedAndEndedBeforeItsStartAnswered(t *testing.T) {
	r := newRig(t, Config{})
	r.broker.onPublish = func(int) {
		r.store.mu.Lock()
		doc := r.store.instances["quick"]
		r.store.mu.Unlock()
		doc.ExecutionID, doc.Executions = "next", doc.Executions+1
		doc.Status, doc.Output, doc.LastEpisode = history.StatusCompleted, json.RawMessage(`"hi"`), 2
		r.d.waiters.wake("quick", &doc)
	}
	if a := r.do("POST", "/v1/instances", `{"name":"Hello","instanceId":"quick"}`); a.code != http.StatusAccepted {
		t.Fatalf("start: %d %s", a.code, a.body)
	}
	r.store.mu.Lock()
	r.store.reads = 0
	r.store.mu.Unlock()
	waitAnsweredByAnnouncement(t, r, "quick", "300ms")
}

// waitAnsweredByAnnouncement waits for id and wants the announced Completed document (output
// "hi"), with no store read since the rig's count was last zeroed.
func waitAnsweredByAnnouncement(t *testing.T, r *rig, id, timeout string) {
	t.Helper()
	a := r.do("GET", "/v1/instances/"+id+"/wait?timeout="+timeout, "")
	if a.code != http.StatusOK || a.status(t).Status != history.StatusCompleted || string(a.status(t).Output) != `"hi"` {
		t.Fatalf("wait: %d %s, want the announced Completed document", a.code, a.body)
	}
	r.store.mu.Lock()
	reads := r.store.reads
	r.store.mu.Unlock()
	if reads != 0 {
		t.Fatalf("the wait read the store %d times, want none", reads)
	}
}
