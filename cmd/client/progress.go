package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/warrenhq/warren/api"
)

// progress redraws one line on a terminal while a wait runs: the instance, its last known
// status and the time waited. Off a terminal (or with --json) it prints nothing.
type progress struct {
	c     *cli
	id    string
	start time.Time

	mu     sync.Mutex
	status string
	stop   chan struct{}
	wg     sync.WaitGroup
}

func (c *cli) newProgress(id string) *progress {
	p := &progress{c: c, id: id, start: time.Now(), status: "waiting", stop: make(chan struct{})}
	if !c.tty || c.cfg.JSON {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		spinner := `|/-\`
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			p.mu.Lock()
			fmt.Fprintf(p.c.stderr, "\r\033[K%c %s: %s (%s)", spinner[i%len(spinner)], p.id, p.status,
				time.Since(p.start).Round(time.Second))
			p.mu.Unlock()
			select {
			case <-p.stop:
				fmt.Fprint(p.c.stderr, "\r\033[K")
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *progress) update(st *api.Status) {
	p.mu.Lock()
	p.status = string(st.Status)
	p.mu.Unlock()
}

func (p *progress) done() {
	close(p.stop)
	p.wg.Wait()
}
