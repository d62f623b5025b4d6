package worker

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// sweepTimers sends again the durable timers of owned instances that are long overdue. The
// timer ladder delivers at least once, but a broker that restarts can hold timers that were
// between two levels for minutes (RabbitMQ 3.10 brings quorum queues back before the
// exchanges they dead-letter to), or lose them. The copy carries the original message's id,
// so whichever arrives second is recognised as a copy, and a copy never re-sends anything
// (classify). It does not run while the store or the broker fails or while messages wait
// in the inbox (the original may be among them), and each timer is sent again at growing
// intervals: TimerGrace after it was due, then 2, 4, … times that. It runs on the episode
// loop's goroutine.
func (w *Worker) sweepTimers(ctx context.Context) {
	if w.troubled.Load() || w.inbox.len() > 0 {
		return
	}
	var out []history.OutboxMessage
	now := w.now()
	for _, st := range w.cache.snapshot() {
		if st.finished() || st.fresh || !w.ownsInstance(st.inst.InstanceID) {
			continue
		}
		for _, ev := range overdueTimers(st.past, now, w.cfg.TimerGrace, st.resends) {
			fired := history.Event{Version: history.VersionOf(history.TimerFired), Kind: history.TimerFired, TaskID: ev.TaskID, FireAt: ev.FireAt}
			id := timerMessageID(st.inst.InstanceID, st.inst.ExecutionID, ev.TaskID)
			if m, err := controlMessage(id, st.inst.InstanceID, st.inst.ExecutionID, fired); err == nil {
				out = append(out, m)
				st.resends[ev.TaskID]++
			}
		}
	}
	if len(out) == 0 {
		return
	}
	w.log.Warn("sending overdue timers again", "count", len(out))
	if err := w.publishOutbox(ctx, out); err != nil {
		w.log.Warn("sending overdue timers failed", "err", err)
		return
	}
	w.metrics.timersResent.Add(float64(len(out)))
}

// overdueTimers lists the TimerCreated events of past that have not fired and are due to
// be sent again at now: grace after their due time on the first resend, and each later
// resend after twice the wait of the one before (resends counts them per task).
func overdueTimers(past []history.Event, now time.Time, grace time.Duration, resends map[int64]int) []history.Event {
	fired := map[int64]bool{}
	for _, ev := range past {
		if ev.Kind == history.TimerFired {
			fired[ev.TaskID] = true
		}
	}
	var out []history.Event
	for _, ev := range past {
		if ev.Kind != history.TimerCreated || fired[ev.TaskID] {
			continue
		}
		wait := grace << min(resends[ev.TaskID], 10)
		if ev.FireAt.Add(wait).Before(now) {
			out = append(out, ev)
		}
	}
	return out
}

// warmEvery is how often the warm loop looks for partitions taken since it last did.
const warmEvery = time.Second

// warmLoop warms the cache for the partitions taken, until ctx ends. It runs beside the
// episode loop, not on it: a warm-up lists every live instance of the hub and loads the
// histories of the taken partitions' ones, which with thousands of instances in flight
// takes seconds on FerretDB (it reads every Pending document to sort a page of them), and
// on the episode loop, where it first ran, every batch waited for it.
func (w *Worker) warmLoop(ctx context.Context) {
	tick(ctx, warmEvery, func() {
		if !w.troubled.Load() {
			w.warmPartitions(ctx)
		}
	})
}

// warmPartitions reads into the cache the live instances of the partitions taken since
// it last ran, with one history read per page of them: a timer the broker lost is then
// sent again even for an instance that no message has brought into this worker's cache, and
// a document left behind its history (its last owner died owing it) is repaired. Each page
// has OpTimeout of its own. A state it reads never replaces one the episode loop has cached
// meanwhile (putIfAbsent).
func (w *Worker) warmPartitions(ctx context.Context) {
	ps := w.warm.takeAll()
	if len(ps) == 0 {
		return
	}
	want := map[int]bool{}
	for _, p := range ps {
		want[p] = true
	}
	loaded := 0
	// One status per query: a store may answer an equality from an index (FerretDB on
	// PostgreSQL filters it in the database) but a list of statuses by reading everything.
	// The cache takes up to CacheSize of them; the repairs go on past it, through every
	// status: a document its last owner died owing may be Pending (simulation seed 93592: with
	// the cache filled by Running instances, a Pending one whose first episode had committed
	// was never listed, and read Pending for good).
	for _, status := range []history.Status{history.StatusRunning, history.StatusSuspended, history.StatusPending} {
		f := history.ListFilter{Statuses: []history.Status{status}, PageSize: 500}
		for {
			pctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
			page, next, err := w.store.ListInstances(pctx, f)
			if err == nil {
				var n int
				n, err = w.warmPage(pctx, page, want, loaded < w.cfg.CacheSize)
				loaded += n
			}
			cancel()
			if err != nil {
				w.metrics.storeError("warm_cache")
				w.log.Warn("warming the cache for taken partitions failed", "err", err)
				for _, p := range ps {
					w.warm.add(p) // try again at the next sweep
				}
				return
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
	}
}

// warmPage caches the instances of a page that belong to the wanted partitions and are not
// cached yet (when cache is set), and owes the store the repair of their documents where
// needed.
func (w *Worker) warmPage(ctx context.Context, page []history.Instance, want map[int]bool, cache bool) (int, error) {
	var refs []history.ExecutionRef
	byRef := map[history.ExecutionRef]history.Instance{}
	// The epoch is read before the histories: if the partition changes hands while they
	// load, what they say is cached under an epoch that is never served.
	epochs := map[history.ExecutionRef]int64{}
	for _, inst := range page {
		id := inst.InstanceID
		epoch := w.epochOf(id)
		if !want[queues.PartitionOf(id, w.cfg.Partitions)] || !w.ownsInstance(id) || w.cache.get(id, epoch) != nil {
			continue
		}
		r := history.ExecutionRef{InstanceID: id, ExecutionID: inst.ExecutionID}
		refs = append(refs, r)
		byRef[r], epochs[r] = inst, epoch
	}
	if len(refs) == 0 {
		return 0, nil
	}
	hist, err := w.store.LoadHistories(ctx, refs)
	if err != nil {
		return 0, err
	}
	now := w.now()
	for _, r := range refs {
		if len(hist[r]) == 0 || history.CheckEpisodes(hist[r]) != nil {
			continue // not begun, or written by a newer version (left to a newer worker)
		}
		st := newState(byRef[r], hist[r])
		if cache && !w.cache.putIfAbsent(r.InstanceID, st, epochs[r]) || !cache && w.cache.get(r.InstanceID, epochs[r]) != nil {
			continue // the episode loop has read or moved it on meanwhile
		}
		if doc := st.docRepair(); doc != nil {
			w.docs.oweRepair(*doc, now)
		}
	}
	return len(refs), nil
}

// partitionSet is a set of partition numbers shared between goroutines.
type partitionSet struct {
	mu sync.Mutex
	ps map[int]bool
}

func (s *partitionSet) add(p int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps == nil {
		s.ps = map[int]bool{}
	}
	s.ps[p] = true
}

// takeAll empties the set and returns what it held, in order.
func (s *partitionSet) takeAll() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, 0, len(s.ps))
	for p := range s.ps {
		out = append(out, p)
	}
	s.ps = nil
	sort.Ints(out)
	return out
}
