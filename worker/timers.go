package worker

import (
	"context"
	"time"

	"github.com/warrenhq/warren/history"
)

// sendOverdueTimers sends again the timers of cached instances that are long overdue. The
// timer ladder delivers at least once, but a broker that restarts can hold timers that were
// between two levels for minutes (RabbitMQ 3.10 brings quorum queues back before the
// exchanges they dead-letter to). The copy carries the original message's id, so whichever
// arrives second is recognised as a redelivery. It runs on the episode loop's goroutine,
// which owns the cached states.
func (w *Worker) sendOverdueTimers(ctx context.Context) {
	var out []history.OutboxMessage
	cutoff := w.now().Add(-w.cfg.TimerGrace)
	for _, st := range w.cache.snapshot() {
		if st.finished() || st.fresh || !w.ownsInstance(st.inst.InstanceID) {
			continue
		}
		for _, ev := range overdueTimers(st.past, cutoff) {
			fired := history.Event{Version: history.SchemaVersion, Kind: history.TimerFired, TaskID: ev.TaskID, FireAt: ev.FireAt}
			id := timerMessageID(st.inst.InstanceID, st.inst.ExecutionID, ev.TaskID)
			if m, err := controlMessage(id, st.inst.InstanceID, st.inst.ExecutionID, fired); err == nil {
				out = append(out, m)
			}
		}
	}
	if len(out) == 0 {
		return
	}
	w.log.Warn("sending overdue timers again", "count", len(out))
	if err := w.publishOutbox(ctx, out); err != nil {
		w.log.Warn("sending overdue timers failed", "err", err)
	}
}

// overdueTimers lists the TimerCreated events of past that have not fired and were due
// before cutoff.
func overdueTimers(past []history.Event, cutoff time.Time) []history.Event {
	fired := map[int64]bool{}
	for _, ev := range past {
		if ev.Kind == history.TimerFired {
			fired[ev.TaskID] = true
		}
	}
	var out []history.Event
	for _, ev := range past {
		if ev.Kind == history.TimerCreated && !fired[ev.TaskID] && ev.FireAt.Before(cutoff) {
			out = append(out, ev)
		}
	}
	return out
}
