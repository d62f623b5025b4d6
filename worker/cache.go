package worker

import (
	"container/list"
	"sort"
	"sync"
)

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
	c.putLocked(id, s, epoch)
}

// putLocked is put for a caller that holds c.mu.
func (c *stateCache) putLocked(id string, s *instanceState, epoch int64) {
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

// putIfAbsent caches s unless a state of id is cached in epoch or a later one (epochs only
// grow); it reports whether it did.
func (c *stateCache) putIfAbsent(id string, s *instanceState, epoch int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[id]; ok && e.Value.(*cacheEntry).epoch >= epoch {
		return false
	}
	c.putLocked(id, s, epoch)
	return true
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
