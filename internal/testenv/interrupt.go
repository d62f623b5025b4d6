package testenv

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// An interrupted test binary (Ctrl-C, SIGTERM from a script) dies without running its
// t.Cleanup functions, and the hubs it declared stay on the broker for good. OnInterrupt
// lets a test delete them then too.

var interrupts struct {
	sync.Mutex
	next    int
	fns     map[int]func()
	started bool
}

// OnInterrupt registers fn to run if the test binary receives SIGINT or SIGTERM before
// remove is called; then every registered fn runs (at once, for at most 20 seconds) and
// the binary exits with status 1. Register what a test declared on a service as soon as
// it exists, and remove it in the test's own cleanup.
func OnInterrupt(fn func()) (remove func()) {
	interrupts.Lock()
	defer interrupts.Unlock()
	if !interrupts.started {
		interrupts.started = true
		interrupts.fns = map[int]func(){}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		go runOnInterrupt(sig)
	}
	id := interrupts.next
	interrupts.next++
	interrupts.fns[id] = fn
	return func() {
		interrupts.Lock()
		defer interrupts.Unlock()
		delete(interrupts.fns, id)
	}
}

func runOnInterrupt(sig <-chan os.Signal) {
	s := <-sig
	interrupts.Lock()
	fns := make([]func(), 0, len(interrupts.fns))
	for _, fn := range interrupts.fns {
		fns = append(fns, fn)
	}
	interrupts.Unlock()
	os.Stderr.WriteString("testenv: " + s.String() + ": deleting what the running tests declared\n")
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(fn)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
	}
	os.Exit(1)
}
