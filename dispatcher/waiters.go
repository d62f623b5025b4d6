package dispatcher

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// waiters wakes the wait requests of an instance when a worker announces that it has
// ended. The announcement carries the ended document, which the waiter answers with (the
// store's document may lag behind it); an announcement without one sends the waiter to
// read the store once more instead of polling it.
type waiters struct {
	mu sync.Mutex
	m  map[string]map[chan *history.Instance]bool
	// ended keeps the ended documents announced in the last recentFor: a wait that
	// registers just after the announcement (its instance ended while the request was on its
	// way, and the document is not written yet) is answered from it instead of by the next
	// safety read seconds later.
	ended recentDocs
	// started keeps the documents of the instances this dispatcher started in the last
	// recentFor: a wait for one of them (the common start-then-wait) needs no first read of
	// the store, since the document it would read is the one written at the start or, if a
	// worker has written since, older than the announcement that answers the wait.
	started recentDocs
	now     func() time.Time
	// listening is set once the dispatcher hears announcements; until then (or in tests
	// without a broker) waiters poll the store more often.
	listening bool
	// heard counts the announcements of ended instances received.
	heard atomic.Int64
}

// recentDocs keeps instance documents by id for recentFor, oldest first out, at most
// maxRecent of them.
type recentDocs struct {
	m     map[string]recentDoc
	order []string
}

// recentDoc is a kept document and when it was kept.
type recentDoc struct {
	doc *history.Instance
	at  time.Time
}

// get returns the document kept for id less than recentFor before now.
func (r *recentDocs) get(id string, now time.Time) (*history.Instance, bool) {
	d, ok := r.m[id]
	if !ok || now.Sub(d.at) >= recentFor {
		return nil, false
	}
	return d.doc, true
}

// keep keeps doc for id, dropping what has been kept for recentFor and, past maxRecent,
// the oldest.
func (r *recentDocs) keep(id string, doc *history.Instance, now time.Time) {
	if r.m == nil {
		r.m = map[string]recentDoc{}
	}
	for len(r.order) > 0 {
		oldest := r.order[0]
		d, ok := r.m[oldest]
		if ok && len(r.order) < maxRecent && now.Sub(d.at) < recentFor {
			break
		}
		r.order = r.order[1:]
		delete(r.m, oldest)
	}
	if _, ok := r.m[id]; !ok {
		r.order = append(r.order, id)
	}
	r.m[id] = recentDoc{doc: doc, at: now}
}

// forget drops what is kept for id.
func (r *recentDocs) forget(id string) {
	delete(r.m, id) // its place in order goes when it comes first
}

const (
	recentFor = 30 * time.Second
	maxRecent = 10000
)

func newWaiters() *waiters {
	return &waiters{m: map[string]map[chan *history.Instance]bool{}, now: time.Now}
}

// add registers a waiter for id; the returned channel receives, once, what announced the
// end of id: the ended document, or nil when the announcement had none. A document
// announced in the last recentFor is handed over at once; the waiter compares it with what
// it reads (an announcement of an execution before a restart is older, and ignored).
func (w *waiters) add(id string) (<-chan *history.Instance, func()) {
	ch := make(chan *history.Instance, 1)
	w.mu.Lock()
	if doc, ok := w.ended.get(id, w.now()); ok {
		w.mu.Unlock()
		ch <- doc
		return ch, func() {}
	}
	if w.m[id] == nil {
		w.m[id] = map[chan *history.Instance]bool{}
	}
	w.m[id][ch] = true
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.m[id][ch] {
			delete(w.m[id], ch)
			if len(w.m[id]) == 0 {
				delete(w.m, id)
			}
		}
	}
}

// wake hands every waiter of id the ended document (nil: none was announced) and forgets
// them.
func (w *waiters) wake(id string, ended *history.Instance) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ended != nil {
		w.ended.keep(id, ended, w.now())
	}
	for ch := range w.m[id] {
		ch <- ended // each channel has room for one, and is woken once
	}
	delete(w.m, id)
}

// startedHere records the document of an instance this dispatcher has just started. An end
// announced before it is forgotten when it is of an earlier instance under the same id, and
// kept when it is of this very execution or of a later one of the same incarnation (it
// continued as new): the start message is queued before the start is recorded here, and a
// quick instance can end, and be announced, in between.
func (w *waiters) startedHere(inst *history.Instance) {
	doc := *inst
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if end, ok := w.ended.get(doc.InstanceID, now); !ok || !endOf(end, &doc) {
		w.ended.forget(doc.InstanceID)
	}
	w.started.keep(doc.InstanceID, &doc, now)
}

// endOf reports whether end is the end of the execution started began, or of one that
// followed it: the same execution, or a later one of the same incarnation (created at the
// same time: an id purged and created again starts its executions over).
func endOf(end, started *history.Instance) bool {
	if end.ExecutionID == started.ExecutionID {
		return true
	}
	return history.SameIncarnation(end, started) && end.Executions > started.Executions
}

// changed forgets what is kept of id ("": of every instance) once a dispatcher has made
// an ended instance something else (history.MessageKindChanged): the documents kept are of
// what came before.
func (w *waiters) changed(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if id == "" {
		w.ended, w.started = recentDocs{}, recentDocs{}
		return
	}
	w.ended.forget(id)
	w.started.forget(id)
}

// announcedEnd is the ended document of id announced in the last recentFor, unless a
// change of id was announced or made here since. A wait that begins from it reads nothing.
func (w *waiters) announcedEnd(id string) (*history.Instance, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	doc, ok := w.ended.get(id, w.now())
	if !ok {
		return nil, false
	}
	cp := *doc
	return &cp, true
}

// startDoc is the document of id as this dispatcher started it in the last recentFor, unless
// an end of id has been announced since (a wait then begins from that end: announcedEnd).
func (w *waiters) startDoc(id string) (*history.Instance, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	doc, ok := w.started.get(id, now)
	if !ok {
		return nil, false
	}
	if _, ended := w.ended.get(id, now); ended {
		return nil, false
	}
	cp := *doc
	return &cp, true
}

// count is how many wait requests wait now.
func (w *waiters) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, chs := range w.m {
		n += len(chs)
	}
	return n
}

// firstPoll is how long a new waiter waits before its first safety read: pollEvery when
// the dispatcher listens, a quick 20 ms (doubling up to pollEvery) when it does not.
func (w *waiters) firstPoll() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.listening {
		return safetyPoll
	}
	return 20 * time.Millisecond
}

// announced is the ended document an announcement carries for id, or nil when its body
// is empty (an output too large to announce) or not an ended document of id.
func announced(id string, body []byte) *history.Instance {
	if len(body) == 0 {
		return nil
	}
	var inst history.Instance
	if err := json.Unmarshal(body, &inst); err != nil || inst.InstanceID != id || !inst.Status.Terminal() {
		return nil
	}
	return &inst
}

// pollEvery is how often a waiter reads the store without an announcement: a safety net
// when the dispatcher listens (a notice can be lost), the only way when it does not.
func (w *waiters) pollEvery() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.listening {
		return safetyPoll
	}
	return time.Second
}

// safetyPoll is how often a waiter reads the store while the dispatcher listens.
const safetyPoll = 5 * time.Second

// listen subscribes to the hub's announcements under name.
func (w *waiters) listen(ctx context.Context, conn *queues.Conn, name string) (*queues.Consumer, error) {
	k, err := conn.Listen(ctx, name, func(d *queues.Delivery) {
		switch d.Kind {
		case history.MessageKindEnded:
			w.heard.Add(1)
			w.wake(d.InstanceID, announced(d.InstanceID, d.Body))
		case history.MessageKindChanged:
			w.changed(d.InstanceID)
		}
		_ = d.Ack()
	})
	if err == nil {
		w.mu.Lock()
		w.listening = true
		w.mu.Unlock()
	}
	return k, err
}
