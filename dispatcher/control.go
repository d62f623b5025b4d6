package dispatcher

import (
	"fmt"
	"net/http"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/tracing"
)

// raise delivers an external event; the body is its data, any JSON value (or nothing).
func (d *Dispatcher) raise(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if ae := validInstanceID(r.PathValue("id")); ae != nil {
		return ae
	}
	if ae := validName("event name", name); ae != nil {
		return ae
	}
	body, ae := readBody(w, r, d.cfg.MaxBodyBytes)
	if ae != nil {
		return ae
	}
	data, ae := jsonValue("event data", body)
	if ae != nil {
		return ae
	}
	ev := history.Event{Kind: history.EventRaised, Name: name, Input: data}
	if err := d.signal(w, r, ev, "it takes no more events"); err != nil {
		return err
	}
	d.metrics.raised()
	return nil
}

func (d *Dispatcher) terminate(w http.ResponseWriter, r *http.Request) error {
	if ae := validInstanceID(r.PathValue("id")); ae != nil {
		return ae
	}
	var req api.TerminateRequest
	if ae := decodeBody(w, r, d.cfg.MaxBodyBytes, &req, true); ae != nil {
		return ae
	}
	ev := history.Event{Kind: history.ExecutionTerminated, Reason: req.Reason, Recursive: req.Recursive}
	return d.signal(w, r, ev, "there is nothing to terminate")
}

func (d *Dispatcher) suspend(w http.ResponseWriter, r *http.Request) error {
	return d.reasonSignal(w, r, history.ExecutionSuspended)
}

func (d *Dispatcher) resume(w http.ResponseWriter, r *http.Request) error {
	return d.reasonSignal(w, r, history.ExecutionResumed)
}

func (d *Dispatcher) reasonSignal(w http.ResponseWriter, r *http.Request, kind history.Kind) error {
	if ae := validInstanceID(r.PathValue("id")); ae != nil {
		return ae
	}
	var req api.ReasonRequest
	if ae := decodeBody(w, r, d.cfg.MaxBodyBytes, &req, true); ae != nil {
		return ae
	}
	return d.signal(w, r, history.Event{Kind: kind, Reason: req.Reason}, "it cannot be "+map[history.Kind]string{
		history.ExecutionSuspended: "suspended", history.ExecutionResumed: "resumed"}[kind])
}

// signal sends ev to the instance in the path once it is known to exist and be live, and
// answers 202 with the instance's status as it was. The event is for whichever execution
// is current when it arrives (an event raised just before a continue-as-new is carried
// over by the worker).
func (d *Dispatcher) signal(w http.ResponseWriter, r *http.Request, ev history.Event, whyNot string) error {
	inst, err := d.getInstance(r)
	if err != nil {
		return err
	}
	if inst, err = d.current(r.Context(), inst); err != nil {
		return d.unavailable(r, "reading the history", err)
	}
	if inst.Status.Terminal() {
		return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
			"instance %q is %s: %s", inst.InstanceID, inst.Status, whyNot))
	}
	ev.Version = history.VersionOf(ev.Kind)
	ev.Timestamp = time.Now().UTC()
	ctx := tracing.ExtractHTTP(r.Context(), r.Header)
	tp, ts := tracing.MessageTrace(ctx)
	if err := d.publishEvent(ctx, inst.InstanceID, "", ev, tp, ts); err != nil {
		return d.unavailable(r, "sending the "+string(ev.Kind)+" message", err)
	}
	writeJSON(w, http.StatusAccepted, api.StatusOf(inst))
	return nil
}
