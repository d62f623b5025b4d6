package dispatcher

import (
	"context"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// waiters wakes the wait requests of an instance when a worker announces that it has
// ended, so that a waiter reads the store once more instead of polling it.
type waiters struct {
	mu sync.Mutex
	m  map[string]map[chan struct{}]bool
	// listening is set once the dispatcher hears announcements; until then (or in tests
	// without a broker) waiters poll the store more often.
	listening bool
}

func newWaiters() *waiters { return &waiters{m: map[string]map[chan struct{}]bool{}} }

// add registers a waiter for id; the returned channel is closed when id is announced.
func (w *waiters) add(id string) (chan struct{}, func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	if w.m[id] == nil {
		w.m[id] = map[chan struct{}]bool{}
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

// wake closes the channels of every waiter of id.
func (w *waiters) wake(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.m[id] {
		close(ch)
	}
	delete(w.m, id)
}

// pollEvery is how often a waiter reads the store without an announcement: a safety net
// when the dispatcher listens (a notice can be lost), the only way when it does not.
func (w *waiters) pollEvery() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.listening {
		return 5 * time.Second
	}
	return time.Second
}

// listen subscribes to the hub's announcements under name.
func (w *waiters) listen(ctx context.Context, conn *queues.Conn, name string) (*queues.Consumer, error) {
	k, err := conn.Listen(ctx, name, func(d *queues.Delivery) {
		if d.Kind == history.MessageKindEnded {
			w.wake(d.InstanceID)
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
