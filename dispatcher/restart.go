package dispatcher

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/tracing"
)

// restart starts an ended instance again with the input of its last execution, as a new
// execution under the same id: POST /v1/instances/{id}/restart → 202 with the status it
// had. The old execution's history stays, as after a continue-as-new, until the instance
// is purged. The dispatcher sends the new ExecutionStarted only; the worker that begins it
// writes the new execution's document (Executions + 1), as it does for a continue-as-new,
// so the status shows the old end until then. 409 for an instance that has not ended.
func (d *Dispatcher) restart(w http.ResponseWriter, r *http.Request) error {
	doc, err := d.getInstance(r)
	if err != nil {
		return err
	}
	inst, err := d.current(r.Context(), doc)
	if err != nil {
		return d.unavailable(r, "reading the history", err)
	}
	if !inst.Status.Terminal() {
		return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
			"instance %q is %s; only Completed, Failed or Terminated instances can be restarted (terminate it first)",
			inst.InstanceID, inst.Status))
	}
	if ae := d.checkOrchestrator(r, inst.Name); ae != nil {
		return ae
	}
	ctx := tracing.ExtractHTTP(r.Context(), r.Header)
	started := history.Event{Version: history.VersionOf(history.ExecutionStarted), Kind: history.ExecutionStarted, Timestamp: time.Now().UTC(),
		Name: inst.Name, Input: inst.Input, ExecutionID: newUUID(), Trace: tracing.NewOrchestrationTrace(ctx)}
	return d.sendNewExecution(w, r, inst, history.ControlMessage{InstanceID: inst.InstanceID, ExecutionID: started.ExecutionID, Event: started},
		"restart", "restarting")
}

// sendNewExecution sends the message that begins a new execution of inst (a restart's
// start, a rewind) and answers 202 with the status inst had; what and doing name the
// action in errors and the log.
func (d *Dispatcher) sendNewExecution(w http.ResponseWriter, r *http.Request, inst *history.Instance, cm history.ControlMessage, what, doing string) error {
	d.announceChanged(r.Context(), inst.InstanceID) // its announced end is of the execution before
	ctx := tracing.ExtractHTTP(r.Context(), r.Header)
	tp, ts := tracing.MessageTrace(ctx)
	msg, err := controlMessage(cm, tp, ts)
	if err != nil {
		return err
	}
	switch outcome, err := d.publishReliably(ctx, d.controlQueue(inst.InstanceID), msg, nil); outcome {
	case publishRefused:
		return d.unavailable(r, "sending the "+what, err)
	case publishUnknown:
		return errorf(http.StatusServiceUnavailable, api.CodeUnavailable, fmt.Sprintf(
			"the outcome of the %s of instance %q is unknown: the broker did not confirm the message, which may still be queued. "+
				"Read the instance's history (GET /v1/instances/%s?history=true) before %s it again: a second %s that "+
				"arrives after the first has begun is dead-lettered", what, inst.InstanceID, url.PathEscape(inst.InstanceID), doing, what))
	}
	d.log.Info(doing+" an instance", "instance", inst.InstanceID, "execution", cm.Event.ExecutionID)
	writeJSON(w, http.StatusAccepted, api.StatusOf(inst))
	return nil
}
