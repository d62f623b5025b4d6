package ui_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
)

// opCounter counts a store's operations by kind.
type opCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *opCounter) fault(op memstore.Op) memstore.Fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op.Kind]++
	return memstore.Fault{}
}

func (c *opCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// The dashboard does nothing until a page is asked for, and a page costs its API calls:
// the list one list and a count per status; an instance its history, one page of children
// and their counts.
func TestDashboardCostsNothingUntilAPageIsAsked(t *testing.T) {
	ops := &opCounter{n: map[string]int{}}
	r := newRigOn(t, dispatcher.Config{}, memstore.New(memstore.Options{Faults: ops.fault}))
	r.seed("batch-1", "ProvisionNewDevices", history.StatusRunning, "")
	ops.take()

	time.Sleep(300 * time.Millisecond) // idle: nothing may happen, so there is nothing to poll for
	if n := ops.take(); len(n) != 0 {
		t.Errorf("store operations while nobody looked: %v", n)
	}
	r.get("/ui/instances")
	if got, want := fmt.Sprint(ops.take()), "map[CountInstances:7 ListInstances:1]"; got != want {
		t.Errorf("the instances page cost %s, want %s", got, want)
	}
	r.get("/ui/instances/batch-1")
	if got, want := fmt.Sprint(ops.take()), "map[CountInstances:7 GetInstance:1 ListInstances:1 LoadHistory:1]"; got != want {
		t.Errorf("an instance page cost %s, want %s", got, want)
	}
}
