package worker

import (
	"container/list"
	"sort"
	"sync"

	"github.com/warrenhq/warren/history"
)

// instanceState is what a worker knows of one instance's current execution: enough to run
// the next episode without touching the store.
type instanceState struct {
	inst    history.Instance
	past    []history.Event // the execution's committed events, in order
	started history.Event
	// episodes is the number of committed episodes; the next one is episodes+1.
	episodes int64
	// consumed maps the id of every message a committed episode consumed to that episode,
	// so a redelivery can be recognised and its episode's outbox published again.
	consumed map[string]int64
	outboxes map[int64][]history.OutboxMessage
	// published marks the episodes whose outbox this worker has seen confirmed by the broker.
	published map[int64]bool
	status    history.Status
	// fresh marks a new execution whose instance document has not been written yet.
	fresh bool
	// resends counts the times the timer watch sent each overdue timer again.
	resends map[int64]int
}

func newState(inst history.Instance, episodes []history.Episode) *instanceState {
	s := &instanceState{inst: inst, status: inst.Status, consumed: map[string]int64{},
		outboxes: map[int64][]history.OutboxMessage{}, published: map[int64]bool{}, resends: map[int64]int{}}
	for i := range episodes {
		s.apply(&episodes[i])
	}
	return s
}

// apply adds a committed episode to the state.
func (s *instanceState) apply(ep *history.Episode) {
	s.past = append(s.past, ep.Events...)
	s.episodes = ep.Number
	for _, id := range ep.Consumed {
		s.consumed[id] = ep.Number
	}
	if len(ep.Outbox) > 0 {
		s.outboxes[ep.Number] = ep.Outbox
	}
	for _, ev := range ep.Events {
		if ev.Kind == history.ExecutionStarted {
			s.started = ev
		}
		s.status = history.StatusAfter(s.status, ev)
	}
}

// finished reports whether the current execution will take no more events.
func (s *instanceState) finished() bool {
	return s.status.Terminal() || s.status == history.StatusContinuedAsNew
}

// stateCache keeps recently used instance states, least recently used first out.
type stateCache struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	id    string
	state *instanceState
	// epoch is the ownership epoch of the instance's partition when the state was read: an
	// entry from before the partition last changed hands is never served.
	epoch int64
}

func newStateCache(max int) *stateCache {
	return &stateCache{max: max, order: list.New(), items: map[string]*list.Element{}}
}

// get returns the instance's state if it was cached in the given ownership epoch.
func (c *stateCache) get(id string, epoch int64) *instanceState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		ce := e.Value.(*cacheEntry)
		if ce.epoch != epoch {
			c.order.Remove(e)
			delete(c.items, id)
			return nil
		}
		c.order.MoveToFront(e)
		return ce.state
	}
	return nil
}

// peek returns the instance's cached state whatever its epoch, without touching the order.
func (c *stateCache) peek(id string) *instanceState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		return e.Value.(*cacheEntry).state
	}
	return nil
}

func (c *stateCache) put(id string, s *instanceState, epoch int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		e.Value.(*cacheEntry).state = s
		e.Value.(*cacheEntry).epoch = epoch
		c.order.MoveToFront(e)
		return
	}
	c.items[id] = c.order.PushFront(&cacheEntry{id: id, state: s, epoch: epoch})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).id)
	}
}

func (c *stateCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok {
		c.order.Remove(e)
		delete(c.items, id)
	}
}

// snapshot returns the cached states in instance id order, for periodic sweeps.
func (c *stateCache) snapshot() []*instanceState {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.items))
	for id := range c.items {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*instanceState, len(ids))
	for i, id := range ids {
		out[i] = c.items[id].Value.(*cacheEntry).state
	}
	return out
}
