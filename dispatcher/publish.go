package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// controlMessage is cm for the control queue of its instance, under a message id of its own.
func controlMessage(cm history.ControlMessage, traceParent, traceState string) (queues.Message, error) {
	body, err := json.Marshal(cm)
	if err != nil {
		return queues.Message{}, err
	}
	return queues.Message{
		ID:          newUUID(),
		Kind:        string(cm.Event.Kind),
		InstanceID:  cm.InstanceID,
		Body:        body,
		TraceParent: traceParent,
		TraceState:  traceState,
		Timestamp:   cm.Event.Timestamp,
	}, nil
}

// controlQueue is the control queue of the partition that owns instanceID.
func (d *Dispatcher) controlQueue(instanceID string) string {
	return queues.ControlQueue(d.cfg.Hub, queues.PartitionOf(instanceID, d.cfg.Partitions))
}

// publishEvent sends ev to the instance's control queue, once, within OpTimeout.
func (d *Dispatcher) publishEvent(ctx context.Context, instanceID, executionID string, ev history.Event, traceParent, traceState string) error {
	msg, err := controlMessage(history.ControlMessage{InstanceID: instanceID, ExecutionID: executionID, Event: ev}, traceParent, traceState)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
	defer cancel()
	return d.publish(ctx, d.controlQueue(instanceID), msg)
}

// publish sends msg to queue and counts the outcome.
func (d *Dispatcher) publish(ctx context.Context, queue string, msg queues.Message) error {
	if err := d.broker.Publish(ctx, queue, msg); err != nil {
		d.metrics.publishFailed()
		return err
	}
	d.metrics.published(msg.Kind)
	return nil
}

// publishOutcome is what the dispatcher knows of a message it tried to publish.
type publishOutcome int

const (
	// publishConfirmed: the broker confirmed the message; it is in the queue.
	publishConfirmed publishOutcome = iota
	// publishRefused: the broker definitely did not queue the message (it returned every copy
	// sent as unroutable); nothing will arrive.
	publishRefused
	// publishUnknown: some copy may be in the queue (unconfirmed, a nack the broker
	// client cannot tell apart, a lost connection); a worker may yet receive it.
	publishUnknown
)

// Backoff between the attempts of publishReliably.
const (
	firstRepublishWait = 50 * time.Millisecond
	maxRepublishWait   = time.Second
)

// publishReliably sends msg to queue and, while its outcome is unknown, sends the same
// message (same id, so that the worker drops a second copy) again after a short backoff,
// for up to OpTimeout in all. The error is the last attempt's. sent is the outcome of a
// copy sent already (in a group of starts): nil when none was, or a *queues.PublishError
// for msg alone.
func (d *Dispatcher) publishReliably(ctx context.Context, queue string, msg queues.Message, sent error) (publishOutcome, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
	defer cancel()
	maybeQueued := false
	wait := firstRepublishWait
	for attempt := 0; ; attempt++ {
		err := sent
		if attempt > 0 || sent == nil {
			err = d.publish(ctx, queue, msg)
		}
		switch {
		case err == nil:
			return publishConfirmed, nil
		case refusedByBroker(err) && !maybeQueued:
			return publishRefused, err
		case refusedByBroker(err):
			// This copy was refused, an earlier one may have been queued.
			return publishUnknown, err
		}
		maybeQueued = true
		d.log.Debug("publish not confirmed; sending the same message again", "queue", queue, "id", msg.ID, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return publishUnknown, err
		case <-t.C:
		}
		wait = min(2*wait, maxRepublishWait)
	}
}

// refusedByBroker reports whether err says that the broker queued none of the messages of
// a call: every one came back unroutable. A nack counts as unconfirmed in
// [queues.PublishError], as does a message lost with its connection, so neither is a
// definite refusal.
func refusedByBroker(err error) bool {
	var perr *queues.PublishError
	return errors.As(err, &perr) && len(perr.Unconfirmed) == 0 &&
		len(perr.Unroutable) > 0 && len(perr.Unroutable) == len(perr.IDs)
}
