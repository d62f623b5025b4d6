package worker

import (
	"slices"
	"sync"

	"github.com/warrenhq/warren/queues"
)

// inbox holds the control messages of every owned partition until the episode loop takes
// them. Putting never blocks, so a consumer is never stuck handing a message over while
// its partition is being released (a consumer's Cancel waits for its handler). What it holds
// is bounded all the same: the broker hands each partition's consumer at most its prefetch
// of unsettled messages.
type inbox struct {
	mu    sync.Mutex
	items []*queues.Delivery
	ready chan struct{} // holds a token while items is not empty
}

func newInbox() *inbox { return &inbox{ready: make(chan struct{}, 1)} }

func (b *inbox) put(d *queues.Delivery) {
	b.mu.Lock()
	b.items = append(b.items, d)
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// putFront puts messages back at the head, in the order given, for the next batch. A stale
// one (its channel has gone) is dropped: the broker delivers it again.
func (b *inbox) putFront(ds []*queues.Delivery) {
	ds = slices.DeleteFunc(ds, (*queues.Delivery).Stale)
	if len(ds) == 0 {
		return
	}
	b.mu.Lock()
	b.items = append(append(make([]*queues.Delivery, 0, len(ds)+len(b.items)), ds...), b.items...)
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// take removes and returns up to max messages, oldest first.
func (b *inbox) take(max int) []*queues.Delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(max, len(b.items))
	out := make([]*queues.Delivery, n)
	copy(out, b.items)
	b.items = append(b.items[:0:0], b.items[n:]...)
	if len(b.items) > 0 {
		select {
		case b.ready <- struct{}{}:
		default:
		}
	}
	return out
}

// removeQueue drops the messages taken from queue (a partition given away): its consumer
// is cancelled, so the broker hands them to the partition's next owner.
func (b *inbox) removeQueue(queue string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.items[:0]
	for _, d := range b.items {
		if d.Queue != queue {
			kept = append(kept, d)
		}
	}
	clear(b.items[len(kept):])
	b.items = kept
}

func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}

// takeInstance removes and returns the messages of one instance, oldest first.
func (b *inbox) takeInstance(id string) []*queues.Delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*queues.Delivery
	kept := b.items[:0]
	for _, d := range b.items {
		if d.InstanceID == id {
			out = append(out, d)
		} else {
			kept = append(kept, d)
		}
	}
	clear(b.items[len(kept):])
	b.items = kept
	return out
}
