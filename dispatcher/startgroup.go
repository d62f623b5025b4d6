package dispatcher

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// Starts that arrive together are written and sent together (group commit): their
// documents go to the store in one insertMany ([history.Store.CreateInstances]) and their
// start messages to the broker in one round, a pipelined call per control queue, whose
// confirms are awaited together. The first start of a group leads it: under load (other
// starts are on their way through the handler, or the previous group held several,
// moments ago) it waits up to startGroupWait for the others, and leaves as soon as every
// start on its way has joined (and at least as many as last time) or startGroupMax have;
// otherwise (a lone client, the simulation) it goes at once, so a lone start pays nothing. Whatever a group cannot settle (an id that exists, a message whose
// confirm did not come) goes on alone, on the path of a single start.
const (
	startGroupWait = time.Millisecond
	startGroupMax  = 64
	// startLoadWindow: a group that forms within this time of a group of several is taken
	// to be under load.
	startLoadWindow = 20 * time.Millisecond
	// startGroupsInFlight groups are written and sent at once (one inserting while
	// another publishes); the next gathers meanwhile.
	startGroupsInFlight = 2
)

// startJob is one start in a group.
type startJob struct {
	inst  *history.Instance
	queue string
	msg   queues.Message
	// created is the document's create outcome; published, when it was created, is the
	// message's: nil (confirmed) or a *queues.PublishError for it alone.
	created, published error
	done               chan struct{}
}

// startGroups gathers the starts of a dispatcher into groups.
type startGroups struct {
	mu       sync.Mutex
	pending  []*startJob
	leading  bool // a leader is gathering pending
	arriving int  // starts in the handler that have not joined a group yet
	flushing int  // groups being written and sent
	lastSize int
	lastAt   time.Time
	// joined tells the leader that pending grew or arriving fell.
	joined chan struct{}
	wait   time.Duration // startGroupWait; tests set it
}

func newStartGroups() *startGroups {
	return &startGroups{joined: make(chan struct{}, 1), wait: startGroupWait}
}

// arrival is one start request on its way to a group.
type arrival struct {
	g    *startGroups
	left bool
}

// arrive counts a start request in; leave (or joining a group) counts it out.
func (g *startGroups) arrive() *arrival {
	g.mu.Lock()
	g.arriving++
	g.mu.Unlock()
	return &arrival{g: g}
}

// leave counts a request out that will not join a group (refused, or gone on alone).
func (a *arrival) leave() {
	a.g.mu.Lock()
	a.leaveLocked()
	a.g.mu.Unlock()
	a.g.nudge()
}

func (a *arrival) leaveLocked() {
	if !a.left {
		a.left = true
		a.g.arriving--
	}
}

func (g *startGroups) nudge() {
	select {
	case g.joined <- struct{}{}:
	default:
	}
}

// join adds job to the group being gathered and returns when the group has been written
// and sent (job.created and job.published are set). The caller that finds no group leads
// one: it gathers, then runs flush on the group in its own goroutine.
func (g *startGroups) join(a *arrival, job *startJob, flush func([]*startJob)) {
	job.done = make(chan struct{})
	g.mu.Lock()
	a.leaveLocked()
	g.pending = append(g.pending, job)
	if g.leading {
		g.mu.Unlock()
		g.nudge()
		<-job.done
		return
	}
	g.leading = true
	// While startGroupsInFlight groups are being written and sent, the next one gathers
	// (unless it is full); under load the leader also waits for the starts on their way.
	var expire <-chan time.Time
	if g.arriving > 0 || g.lastSize > 1 && time.Since(g.lastAt) < startLoadWindow {
		timer := time.NewTimer(g.wait)
		defer timer.Stop()
		expire = timer.C
	}
	for len(g.pending) < startGroupMax &&
		(g.flushing >= startGroupsInFlight || expire != nil && (g.arriving > 0 || len(g.pending) < g.lastSize)) {
		g.mu.Unlock()
		select {
		case <-g.joined:
		case <-expire:
			expire = nil
		}
		g.mu.Lock()
	}
	group := g.pending
	g.pending, g.leading = nil, false
	g.lastSize, g.lastAt = len(group), time.Now()
	g.flushing++
	g.mu.Unlock()
	flush(group)
	g.mu.Lock()
	g.flushing--
	g.mu.Unlock()
	g.nudge()
	for _, j := range group {
		if j != job {
			close(j.done)
		}
	}
}

// flushStarts creates the documents of a group with one insertMany and publishes the
// start messages of those created, one pipelined call per control queue, all at once.
func (d *Dispatcher) flushStarts(group []*startJob) {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.OpTimeout)
	defer cancel()
	insts := make([]*history.Instance, len(group))
	for i, j := range group {
		insts[i] = j.inst
	}
	errs := d.store.CreateInstances(ctx, insts)
	byQueue := map[string][]*startJob{}
	for i, j := range group {
		j.created = errs[i]
		if errs[i] == nil {
			byQueue[j.queue] = append(byQueue[j.queue], j)
		}
	}
	names := make([]string, 0, len(byQueue))
	for q := range byQueue {
		names = append(names, q)
	}
	sort.Strings(names)
	if len(names) == 1 {
		d.publishJobs(ctx, names[0], byQueue[names[0]])
		return
	}
	var wg sync.WaitGroup
	for _, q := range names {
		wg.Go(func() { d.publishJobs(ctx, q, byQueue[q]) })
	}
	wg.Wait()
}

// publishJobs sends the messages of jobs to queue in one call and gives each job its own
// outcome.
func (d *Dispatcher) publishJobs(ctx context.Context, queue string, jobs []*startJob) {
	msgs := make([]queues.Message, len(jobs))
	for i, j := range jobs {
		msgs[i] = j.msg
	}
	err := d.broker.Publish(ctx, queue, msgs...)
	var perr *queues.PublishError
	switch {
	case err == nil:
	case errors.As(err, &perr) && len(perr.IDs) == len(msgs):
		for _, i := range perr.Unroutable {
			jobs[i].published = &queues.PublishError{Queue: queue, Unroutable: []int{0}, IDs: []string{msgs[i].ID}, Err: perr.Err}
		}
		for _, i := range perr.Unconfirmed {
			jobs[i].published = &queues.PublishError{Queue: queue, Unconfirmed: []int{0}, IDs: []string{msgs[i].ID}, Err: perr.Err}
		}
	default:
		// Nothing says which were sent: each may be queued.
		for i, j := range jobs {
			j.published = &queues.PublishError{Queue: queue, Unconfirmed: []int{0}, IDs: []string{msgs[i].ID}, Err: err}
		}
	}
	for _, j := range jobs {
		if j.published != nil {
			d.metrics.publishFailed()
		} else {
			d.metrics.published(j.msg.Kind)
		}
	}
}
