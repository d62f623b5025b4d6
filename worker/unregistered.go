package worker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/tracing"
)

// handOnDelay is how long a work item this worker cannot run waits before the work-item
// queue hands it out again, so that workers lacking the activity do not pass it around in
// a tight loop while the ones that have it are busy.
const handOnDelay = 250 * time.Millisecond

// noteActivitiesElsewhere remembers the activities the other live workers register (their
// heartbeats list them).
func (w *Worker) noteActivitiesElsewhere(live []history.WorkerInfo) {
	names := map[string]bool{}
	for _, l := range live {
		if l.WorkerID == w.cfg.WorkerID {
			continue
		}
		for _, a := range l.Activities {
			names[a] = true
		}
	}
	w.elsewhere.Store(&names)
}

// handOn passes on a work item for an activity this worker does not register, when
// another live worker registers it (a rolling deploy): a fresh copy goes back to the
// work-item queue after handOnDelay and the delivery is acked, so the item's delivery
// count starts again and the hand-on does not use up its delivery limit. It reports
// whether it handed the item on (or left it to the broker after a failed publish); false
// means no live worker registers the activity.
func (w *Worker) handOn(ctx context.Context, d *queues.Delivery, req history.ActivityRequest) bool {
	if names := w.elsewhere.Load(); names == nil || !(*names)[req.Name] {
		return false
	}
	w.passOn(ctx, d, req.InstanceID, req.Trace, "a work item for activity "+req.Name+", which this worker does not register")
	return true
}

// passOn sends a fresh copy of a work item this worker cannot run back to the work-item
// queue after handOnDelay and acks the delivery (what says which); after a failed publish
// it leaves the item to the broker.
func (w *Worker) passOn(ctx context.Context, d *queues.Delivery, instanceID string, trace *history.TraceContext, what string) {
	if err := w.freshCopy(ctx, d, d.Message, w.now().Add(handOnDelay)); err != nil {
		w.metrics.brokerError("hand_on")
		w.log.Warn("handing on a work item this worker cannot run failed; the broker hands it out again",
			logging.Instance(instanceID, tracing.SpanContextOf(trace), "what", what, "err", err)...)
		_ = d.Nack(true)
		return
	}
	w.log.Debug("handed on "+what, logging.Instance(instanceID, tracing.SpanContextOf(trace))...)
}

// notRegisteredAnywhere is the failure of an activity that no live worker registers: it is
// not retried, since no attempt could run it.
func (w *Worker) notRegisteredAnywhere(name string) *history.Failure {
	mine := w.registry.Activities()
	var others []string
	if names := w.elsewhere.Load(); names != nil {
		for a := range *names {
			if !slices.Contains(mine, a) {
				others = append(others, a)
			}
		}
	}
	slices.Sort(others)
	msg := fmt.Sprintf("activity %q is not registered on any live worker (this worker registers: %s", name, orNone(mine))
	if len(others) > 0 {
		msg += "; others: " + strings.Join(others, ", ")
	}
	return &history.Failure{Type: durable.ActivityNotRegistered, Message: msg + ")", NonRetriable: true}
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
