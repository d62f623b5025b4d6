package worker

import (
	"errors"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/tracing"
)

// failEpisode makes p's episode one that ends the execution Failed with f, in place of an
// episode that cannot be computed (the executor's error) or stored (too large, refused by
// the store): trying again would fail the same way, so the instance ends, its parent is
// told, and its inputs are consumed. The episode holds the execution's start (on its first
// episode, without the input when the cause is size), OrchestratorStarted and
// ExecutionFailed.
func (w *Worker) failEpisode(p *episodePlan, incoming []history.Event, consumed []string, f *history.Failure, now time.Time) {
	st := p.state
	started := st.started
	var events []history.Event
	if started.Kind == "" {
		for _, ev := range incoming {
			if ev.Kind == history.ExecutionStarted {
				started = ev
				break
			}
		}
		first := started
		if f.Type == failureTooLarge {
			first.Input = nil
		}
		events = append(events, first)
	}
	events = append(events,
		history.Event{Version: history.VersionOf(history.OrchestratorStarted), Kind: history.OrchestratorStarted, Timestamp: now},
		history.Event{Version: history.VersionOf(history.ExecutionFailed), Kind: history.ExecutionFailed, Timestamp: now, Failure: f})
	res := &durable.Result{NewEvents: events, Status: history.StatusFailed, Failure: f}
	ec := st.episodeContext(events)
	ec.started = started
	var outbox []history.OutboxMessage
	if started.Parent != nil {
		if m, err := parentNotice(ec, res); err == nil {
			outbox = append(outbox, m)
		}
	}
	w.log.Warn("orchestration failed by the worker", logging.Instance(p.id, tracing.OrchestrationSpanContext(started), "type", f.Type, "reason", f.Message)...)
	p.episode = &history.Episode{
		InstanceID: p.id, ExecutionID: st.inst.ExecutionID, Number: st.episodes + 1,
		Events: events, Outbox: outbox, Consumed: consumed, CommittedAt: now,
	}
	p.result = &episodeOutcome{res: res, started: started, now: now}
}

// failureTooLarge is the failure type of an execution whose episode the store could not keep.
const failureTooLarge = "EpisodeTooLarge"

// storeFailure describes a permanent store refusal of an episode.
func storeFailure(err error) *history.Failure {
	if errors.Is(err, history.ErrTooLarge) {
		return &history.Failure{Type: failureTooLarge, Message: "the episode is too large for the store (MongoDB keeps at most 16 MiB in one document; pass large data by reference): " + err.Error()}
	}
	return &history.Failure{Type: "StoreRefused", Message: "the store refused the episode: " + err.Error()}
}
