package sim

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// check runs the invariants of durable execution over the run's end state.
func (w *world) check() {
	w.checkOutcomes()
	w.checkHistories()
	w.checkAmplification()
	w.checkMessages()
}

func (w *world) problem(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

// checkOutcomes: each instance ended as its workload expects (status and output), and none
// waits while nothing it waits for is pending.
func (w *world) checkOutcomes() {
	ctx := context.Background()
	w.outage = w.clock // reading the end state is not a fault
	for _, e := range w.expects {
		inst, err := w.store.GetInstance(ctx, e.id)
		if err != nil {
			w.problem("instance %s: %v (never started?)", e.id, err)
			continue
		}
		if inst.Status != e.status {
			if w.deliveryLimitExplained(inst) {
				continue
			}
			w.problem("instance %s is %s, want %s (failure %v); nothing it waits for is pending", e.id, inst.Status, e.status, inst.Failure)
			continue
		}
		if e.output != "" && string(inst.Output) != e.output {
			w.problem("instance %s output %s, want %s", e.id, inst.Output, e.output)
		}
		if e.failType != "" && (inst.Failure == nil || !strings.Contains(inst.Failure.Type+": "+inst.Failure.Message, e.failType)) && !w.deliveryLimitExplained(inst) {
			w.problem("instance %s failure %+v, want one naming %q", e.id, inst.Failure, e.failType)
		}
	}
}

// deliveryLimitExplained reports whether an instance failed because a work item used up its
// delivery budget (the worker fails such a task rather than let it circulate) after enough
// faults to return it that often: the expected outcome of those faults. Of the budget's
// deliveries, one per copy of the work item (the first and each renewal) is not a return.
func (w *world) deliveryLimitExplained(inst *history.Instance) bool {
	copies := (queues.DefaultDeliveryBudget + queues.DefaultDeliveryLimit - 1) / queues.DefaultDeliveryLimit
	return inst.Status == history.StatusFailed && inst.Failure != nil &&
		strings.Contains(inst.Failure.Type+inst.Failure.Message, "DeliveryLimitExceeded") &&
		w.faults >= queues.DefaultDeliveryBudget-copies
}

// checkHistories: no history holds two results for one task or two starts, the execution's
// end is its last event, and every committed episode replays to what was committed.
func (w *world) checkHistories() {
	ctx := context.Background()
	exec := durable.NewExecutor(w.reg)
	var cursor string
	for {
		page, next, err := w.store.ListInstances(ctx, history.ListFilter{PageSize: 500, Cursor: cursor})
		if err != nil {
			w.problem("listing instances: %v", err)
			return
		}
		for _, inst := range page {
			eps, err := w.store.LoadHistory(ctx, inst.InstanceID, inst.ExecutionID)
			if err != nil {
				w.problem("history of %s: %v", inst.InstanceID, err)
				continue
			}
			w.checkHistory(exec, inst, eps)
		}
		if next == "" {
			return
		}
		cursor = next
	}
}

func (w *world) checkHistory(exec *durable.Executor, inst history.Instance, eps []history.Episode) {
	results := map[int64]int{}
	starts, ends := 0, 0
	var all []history.Event
	for i, ep := range eps {
		if ep.Number != int64(i+1) {
			w.problem("instance %s: episode %d at position %d", inst.InstanceID, ep.Number, i+1)
		}
		for _, ev := range ep.Events {
			switch ev.Kind {
			case history.TaskCompleted, history.TaskFailed, history.SubOrchestrationCompleted,
				history.SubOrchestrationFailed, history.TimerFired:
				results[ev.TaskID]++
				if results[ev.TaskID] == 2 {
					w.problem("instance %s: task %d has two results (%s)", inst.InstanceID, ev.TaskID, ev.Kind)
				}
			case history.ExecutionStarted:
				starts++
			case history.ExecutionCompleted, history.ExecutionFailed, history.ExecutionTerminated, history.ContinuedAsNew:
				ends++
			}
			all = append(all, ev)
		}
	}
	if len(eps) > 0 && starts != 1 {
		w.problem("instance %s: %d ExecutionStarted events", inst.InstanceID, starts)
	}
	if ends > 1 {
		w.problem("instance %s: %d terminal events", inst.InstanceID, ends)
	}
	// Replay: each episode, run again on the history before it with its own inputs, must
	// decide the same events (by kind and task). Episodes a worker wrote in place of the
	// orchestrator's (a failure it could not compute or store) are skipped.
	var past []history.Event
	whole := true
	for _, ep := range eps {
		switch {
		case workerMade(ep):
			whole = false
		case ep.Number == 1 && slices.ContainsFunc(ep.Events, func(ev history.Event) bool { return ev.Kind == history.ExecutionRewound }):
			w.checkRewind(exec, inst.InstanceID, ep)
		default:
			w.checkReplay(exec, inst.InstanceID, past, ep)
		}
		past = append(past, ep.Events...)
	}
	// The whole execution replays too, as a replay test of a recorded history would
	// (durable.Executor.Replay: every episode's calls, and its end).
	if whole && len(all) > 0 {
		if err := exec.Replay(inst.InstanceID, all); err != nil {
			w.problem("instance %s: its history does not replay: %v", inst.InstanceID, err)
		}
	}
}

func workerMade(ep history.Episode) bool {
	for _, ev := range ep.Events {
		if ev.Kind == history.ExecutionFailed && ev.Failure != nil &&
			slices.Contains([]string{"EpisodeTooLarge", "StoreRefused", "OrchestrationError"}, ev.Failure.Type) {
			return true
		}
	}
	return false
}

func (w *world) checkReplay(exec *durable.Executor, id string, past []history.Event, ep history.Episode) {
	past = slices.Clip(past)
	for _, round := range rounds(ep.Events) {
		var inputs []history.Event
		var at = ep.CommittedAt
		for _, ev := range round {
			if ev.MessageID != "" {
				inputs = append(inputs, ev)
			}
			if ev.Kind == history.OrchestratorStarted {
				at = ev.Timestamp
			}
		}
		if len(inputs) == 0 {
			return
		}
		res, err := exec.Execute(id, past, inputs, at)
		if err != nil {
			w.problem("instance %s episode %d does not replay: %v", id, ep.Number, err)
			return
		}
		if got, want := shape(res.NewEvents), shape(round); got != want {
			w.problem("instance %s episode %d replays to %s, committed %s", id, ep.Number, got, want)
			return
		}
		past = append(past, round...)
	}
}

// rounds splits an episode's events into the orchestrator's turns, each beginning with its
// OrchestratorStarted: an episode that folded activities run in place holds several.
func rounds(events []history.Event) [][]history.Event {
	var out [][]history.Event
	begin, started := 0, false
	for i, ev := range events {
		if ev.Kind != history.OrchestratorStarted {
			continue
		}
		if started {
			out = append(out, events[begin:i])
			begin = i
		}
		started = true
	}
	return append(out, events[begin:])
}

// checkRewind: the first episode of a rewound execution is what rewinding the failed
// execution it names (the last of its start's RewoundFrom) decides again.
func (w *world) checkRewind(exec *durable.Executor, id string, ep history.Episode) {
	var start, marker history.Event
	at := ep.CommittedAt
	for _, ev := range ep.Events {
		switch ev.Kind {
		case history.ExecutionStarted:
			start = ev
		case history.ExecutionRewound:
			marker = ev
		case history.OrchestratorStarted:
			at = ev.Timestamp
		}
	}
	if len(start.RewoundFrom) == 0 {
		w.problem("instance %s: a rewound execution whose start names no failed execution", id)
		return
	}
	failedExec := start.RewoundFrom[len(start.RewoundFrom)-1]
	eps, err := w.store.LoadHistory(context.Background(), id, failedExec)
	if err != nil {
		w.problem("instance %s: the history of the execution it was rewound from: %v", id, err)
		return
	}
	var failed []history.Event
	for _, e := range eps {
		failed = append(failed, e.Events...)
	}
	req := marker
	req.Parent, req.Trace = start.Parent, start.Trace
	res, err := exec.Rewind(id, failed, req, at)
	if err != nil {
		w.problem("instance %s: its rewind does not replay: %v", id, err)
		return
	}
	if got, want := shape(res.NewEvents), shape(ep.Events); got != want {
		w.problem("instance %s: its rewind replays to %s, committed %s", id, got, want)
	}
}

// shape is the kinds and task ids of events, for comparing a replay with what was
// committed (timestamps and ids of new executions may differ).
func shape(evs []history.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%s/%d ", ev.Kind, ev.TaskID)
	}
	return b.String()
}

// checkAmplification: an activity runs again only as often as the faults explain. A fault
// (a crash, a lost confirm, a duplicate) can repeat the work in flight at that moment,
// which may be several activities of one episode; a repeat must not cascade into the
// orchestration's later steps, its parent or its children. So for each execution, the
// episodes whose activities ran more than once are at most as many as the faults injected;
// without faults, no activity runs twice.
func (w *world) checkAmplification() {
	ctx := context.Background()
	episodes := map[string]map[string]bool{} // instance/execution → episodes with a re-run
	for id, n := range w.runs {
		if n < 2 {
			continue
		}
		// A work item's id is <instance>/<execution>/<task>/activity.
		parts := strings.Split(strings.TrimSuffix(id, "/activity"), "/")
		if len(parts) < 3 {
			w.problem("work item %s ran %d times", id, n)
			continue
		}
		exec := strings.Join(parts[:len(parts)-1], "/")
		task := parts[len(parts)-1]
		inst := strings.Join(parts[:len(parts)-2], "/")
		if episodes[exec] == nil {
			episodes[exec] = map[string]bool{}
		}
		episodes[exec][w.schedulingEpisode(ctx, inst, parts[len(parts)-2], task)] = true
	}
	for exec, eps := range episodes {
		if len(eps) > w.faults {
			w.problem("amplification: in %s the activities of %d episodes ran again, for %d faults", exec, len(eps), w.faults)
		}
	}
}

// schedulingEpisode names the episode that scheduled a task, or the task itself when the
// execution's history is not at hand (an execution that continued as new).
func (w *world) schedulingEpisode(ctx context.Context, instanceID, executionID, task string) string {
	eps, err := w.store.LoadHistory(ctx, instanceID, executionID)
	if err == nil {
		for _, ep := range eps {
			for _, ev := range ep.Events {
				if ev.Kind == history.TaskScheduled && fmt.Sprint(ev.TaskID) == task {
					return fmt.Sprint("episode ", ep.Number)
				}
			}
		}
	}
	return "task " + task
}

// checkMessages: every message is acked, dead-lettered with a reason, or legitimately
// pending (a durable timer of an ended instance, not yet due).
func (w *world) checkMessages() {
	if n := w.broker.Unacked(); n > 0 {
		w.problem("%d deliveries never settled", n)
	}
	for _, q := range w.broker.Queues() {
		if q == queues.DeadLetterQueue(hub) {
			continue
		}
		for _, m := range w.broker.Pending(q) {
			if m.Kind == string(history.TimerFired) {
				continue // a timer of an ended execution: it is acked when it fires
			}
			w.problem("message %s (%s) left in %s", m.ID, m.Kind, q)
		}
	}
	for _, m := range w.broker.DeadLetters() {
		if m.Reason == "" {
			w.problem("message %s (%s) dead-lettered without a reason", m.ID, m.Kind)
		}
	}
}
