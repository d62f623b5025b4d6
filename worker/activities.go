package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/tracing"
)

// runActivity runs one activity attempt and sends its outcome to the instance's control
// queue; the work item is acked only once that outcome is confirmed by the broker, so a
// crash in between runs the activity again (at-least-once) and the orchestration applies
// the first result it sees.
func (w *Worker) runActivity(ctx context.Context, d *queues.Delivery) {
	req, err := decodeActivity(d.Kind, d.Body, w.cfg.MaxMessageBytes)
	switch {
	case w.newerCanRead(err):
		w.metrics.deferred.WithLabelValues("workitems").Inc()
		w.passOn(ctx, d, d.InstanceID, nil, "a work item a newer version of Warren wrote")
		return
	case errors.Is(err, history.ErrNewerVersion):
		w.deadLetter(d, deadNewerVersion, err.Error()+" (no live worker reads a newer schema: redrive it once one runs)")
		return
	case err != nil:
		w.deadLetter(d, deadUndecodable, err.Error())
		return
	}
	if d.Redelivered {
		w.metrics.redelivered("workitems")
	}
	if req.Attempt > 1 {
		w.metrics.retries.WithLabelValues(req.Name).Inc()
	}
	var out []byte
	var failure *history.Failure
	if total := d.PriorDeliveries + d.DeliveryCount; total >= w.cfg.WorkItemDeliveryBudget {
		// The work item has been handed out as often as its budget allows without a
		// result: the task fails now, and the orchestration's retry policy decides what
		// follows.
		failure = &history.Failure{Type: "DeliveryLimitExceeded", Message: fmt.Sprintf(
			"activity %s was handed to workers %d times without a result (workers stopped or crashed while running it, or lost their connection to the broker)",
			req.Name, total-1)}
		w.metrics.activity(req.Name, outcomeDeliveryLimit, 0)
	} else if d.DeliveryCount >= w.cfg.WorkItemDeliveryLimit && w.renew(ctx, d, req) {
		return
	} else if !w.registry.HasActivity(req.Name) {
		if w.handOn(ctx, d, req) {
			return
		}
		failure = w.notRegisteredAnywhere(req.Name)
		w.metrics.activity(req.Name, outcomeFailed, 0)
	} else if input, err := w.activityInput(ctx, req); errors.Is(err, history.ErrPayloadNotFound) {
		failure = &history.Failure{Type: "PayloadMissing", Message: fmt.Sprintf("activity %s: its input is gone from the store (the instance was purged?): %v", req.Name, err)}
		w.metrics.activity(req.Name, outcomeFailed, 0)
	} else if err != nil {
		w.metrics.storeError("get_payloads")
		w.log.Warn("reading an activity's input failed; the work item goes back to the queue",
			logging.Instance(req.InstanceID, tracing.SpanContextOf(req.Trace), "activity", req.Name, "err", err)...)
		_ = d.Nack(true)
		return
	} else {
		req.Input = input
		actx, end := w.startActivitySpan(ctx, req)
		actx, unwatch := w.watchInstance(actx, req)
		began := time.Now()
		out, failure = w.registry.RunActivity(actx, durable.ActivityInfo{
			InstanceID: req.InstanceID, ExecutionID: req.ExecutionID, TaskID: req.TaskID,
			Name: req.Name, Attempt: req.Attempt, Timeout: req.Timeout, HeartbeatTimeout: req.HeartbeatTimeout,
			LastHeartbeat: string(req.LastHeartbeat),
		}, req.Name, req.Input)
		took := time.Since(began)
		if cause := unwatch(); cause != nil && failure != nil {
			failure = &history.Failure{Type: "Canceled", Message: fmt.Sprintf("activity %s: %v", req.Name, cause), Cause: failure}
		}
		end(failure)
		outcome := outcomeCompleted
		if failure != nil {
			outcome = outcomeFailed
		}
		w.metrics.activity(req.Name, outcome, took)
	}

	ev := history.Event{TaskID: req.TaskID, Timestamp: w.now()}
	if failure == nil && len(out) > w.cfg.PayloadInlineMax {
		// A large result goes to the store; the message refers to it.
		p := history.NewPayload(req.InstanceID, req.ExecutionID, out)
		pctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		err := w.store.PutPayloads(pctx, []history.Payload{p})
		cancel()
		switch {
		case errors.Is(err, history.ErrTooLarge):
			failure = &history.Failure{Type: "ResultTooLarge", Message: fmt.Sprintf(
				"activity %s returned %d bytes, more than the store keeps in one record; pass large data by reference: %v", req.Name, len(out), err)}
		case err != nil:
			w.metrics.storeError("put_payloads")
			w.log.Warn("storing an activity's result failed; the activity will run again",
				logging.Instance(req.InstanceID, tracing.SpanContextOf(req.Trace), "activity", req.Name, "err", err)...)
			_ = d.Nack(true)
			return
		default:
			out, ev.ResultRef, ev.Version = nil, &p.Ref, history.PayloadVersion
		}
	}
	if failure != nil {
		ev.Kind, ev.Failure = history.TaskFailed, failure
	} else {
		ev.Kind, ev.Result = history.TaskCompleted, out
	}
	if w.crashed("activity-ran") {
		return
	}
	om, err := controlMessage(d.ID+"/result", req.InstanceID, req.ExecutionID, ev)
	if err == nil && checkSize(om.Body, w.cfg.MaxMessageBytes) != nil {
		// The orchestration's worker would refuse a result this large: the task fails
		// instead, and the orchestration decides what follows.
		ev.Kind, ev.Result = history.TaskFailed, nil
		ev.Failure = &history.Failure{Type: "ResultTooLarge", Message: fmt.Sprintf(
			"activity %s returned %d bytes, more than a worker takes in one message (%d, WARREN_MAX_MESSAGE_BYTES); pass large data by reference",
			req.Name, len(out), w.cfg.MaxMessageBytes)}
		om, err = controlMessage(d.ID+"/result", req.InstanceID, req.ExecutionID, ev)
	}
	if it := inPlaceItem(d); it != nil && err == nil {
		w.deliverInPlace(ctx, it, om)
	} else if err == nil {
		pctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		err = w.publishOutbox(pctx, []history.OutboxMessage{om})
		cancel()
	}
	if err != nil {
		w.log.Warn("sending activity result failed; the activity will run again",
			logging.Instance(req.InstanceID, tracing.SpanContextOf(req.Trace), "activity", req.Name, "err", err)...)
		_ = d.Nack(true)
		return
	}
	if w.crashed("result-sent") {
		return
	}
	_ = d.Ack()
}
