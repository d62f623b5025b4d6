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
	// recent keeps the ended documents announced in the last recentFor, oldest first out
	// (at most maxRecent): a wait that registers just after the announcement (its instance
	// ended while the request was on its way, and the document is not written yet) is
	// answered from it instead of by the next safety read seconds later.
	recent map[string]recentEnd
	order  []string
	now    func() time.Time
	// listening is set once the dispatcher hears announcements; until then (or in tests
	// without a broker) waiters poll the store more often.
	listening bool
	// heard counts the announcements of ended instances received.
	heard atomic.Int64
}

// recentEnd is an announced ended document and when it was announced.
type recentEnd struct {
	doc *history.Instance
	at  time.Time
}

const (
	recentFor = 30 * time.Second
	maxRecent = 10000
)

func newWaiters() *waiters {
	return &waiters{m: map[string]map[chan *history.Instance]bool{}, recent: map[string]recentEnd{}, now: time.Now}
}

// add registers a waiter for id; the returned channel receives, once, what announced the
// end of id: the ended document, or nil when the announcement had none. A document
// announced in the last recentFor is handed over at once; the waiter compares it with what
// it reads (an announcement of an execution before a restart is older, and ignored).
func (w *waiters) add(id string) (<-chan *history.Instance, func()) {
	ch := make(chan *history.Instance, 1)
	w.mu.Lock()
	if r, ok := w.recent[id]; ok && w.now().Sub(r.at) < recentFor {
		w.mu.Unlock()
		ch <- r.doc
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
		w.remember(id, ended)
	}
	for ch := range w.m[id] {
		ch <- ended // each channel has room for one, and is woken once
	}
	delete(w.m, id)
}

// remember keeps an announced ended document for recentFor; the caller holds the lock.
func (w *waiters) remember(id string, doc *history.Instance) {
	now := w.now()
	for len(w.order) > 0 {
		oldest := w.order[0]
		r, ok := w.recent[oldest]
		if ok && len(w.order) < maxRecent && now.Sub(r.at) < recentFor {
			break
		}
		w.order = w.order[1:]
		delete(w.recent, oldest)
	}
	if _, ok := w.recent[id]; !ok {
		w.order = append(w.order, id)
	}
	w.recent[id] = recentEnd{doc: doc, at: now}
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
		if d.Kind == history.MessageKindEnded {
			w.heard.Add(1)
			w.wake(d.InstanceID, announced(d.InstanceID, d.Body))
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
