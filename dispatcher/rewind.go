package dispatcher

import (
	"fmt"
	"net/http"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/tracing"
)

// failureStartNotQueued is the failure type of a start the dispatcher gave up on.
const failureStartNotQueued = "StartNotQueued"

// rewind takes a Failed instance back to just before its failure and runs it from there:
// POST /v1/instances/{id}/rewind {reason?} → 202 with the status it had. The dispatcher
// sends an ExecutionRewound naming the failed execution and the new one; the worker that
// owns the instance builds the new execution from the failed one's history
// (durable.Executor.Rewind), writes its document and sends the open calls again. 409 for
// an instance that is not Failed, or that failed before it started.
func (d *Dispatcher) rewind(w http.ResponseWriter, r *http.Request) error {
	var req api.ReasonRequest
	if ae := decodeBody(w, r, d.cfg.MaxBodyBytes, &req, true); ae != nil {
		return ae
	}
	doc, err := d.getInstance(r)
	if err != nil {
		return err
	}
	inst, err := d.current(r.Context(), doc)
	if err != nil {
		return d.unavailable(r, "reading the history", err)
	}
	switch {
	case !inst.Status.Terminal():
		return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
			"instance %q is %s; only a Failed instance can be rewound", inst.InstanceID, inst.Status))
	case inst.Status != history.StatusFailed:
		return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
			"instance %q is %s; only a Failed instance can be rewound (restart runs an ended instance again from the start)", inst.InstanceID, inst.Status))
	case inst.Failure != nil && inst.Failure.Type == failureStartNotQueued:
		return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
			"instance %q never started (its start was not queued): start it again instead of rewinding it", inst.InstanceID))
	}
	if ae := d.checkOrchestrator(r, inst.Name); ae != nil {
		return ae
	}
	ctx := tracing.ExtractHTTP(r.Context(), r.Header)
	ev := history.Event{Version: history.VersionOf(history.ExecutionRewound), Kind: history.ExecutionRewound, Timestamp: time.Now().UTC(),
		ExecutionID: newUUID(), Reason: req.Reason, Trace: tracing.NewOrchestrationTrace(ctx)}
	return d.sendNewExecution(w, r, inst, history.ControlMessage{InstanceID: inst.InstanceID, ExecutionID: inst.ExecutionID, Event: ev},
		"rewind", "rewinding")
}
