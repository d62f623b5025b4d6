package dispatcher

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/tracing"
)

// start creates an instance and sends its ExecutionStarted. The instance document is
// written first (so that a status read right after the answer finds it); starts that arrive
// together are written and sent together (startgroup.go). When the broker refuses the
// message the document is deleted again: nothing is left behind. When the outcome is
// unknown (the message may be queued all the same) the start is refused in the history
// (refuseStart), unless a worker has begun it already.
func (d *Dispatcher) start(w http.ResponseWriter, r *http.Request) error {
	arrived := d.starts.arrive()
	defer arrived.leave()
	var req api.StartRequest
	if ae := decodeBody(w, r, d.cfg.MaxBodyBytes, &req, false); ae != nil {
		return ae
	}
	if ae := validName("orchestrator name", req.Name); ae != nil {
		return ae
	}
	if req.InstanceID == "" {
		req.InstanceID = newUUID()
	} else if ae := validInstanceID(req.InstanceID); ae != nil {
		return ae
	}
	if ae := d.checkOrchestrator(r, req.Name); ae != nil {
		return ae
	}

	// A caller that traces (the client binary) has opened the create_orchestration span
	// itself and sent it along: that span is the orchestration's parent. For a caller that
	// does not (curl), the dispatcher opens it, so every trace starts with one.
	ctx := tracing.ExtractHTTP(r.Context(), r.Header)
	span := trace.SpanFromContext(ctx)
	if !span.SpanContext().IsValid() {
		ctx, span = tracing.StartCreateOrchestration(ctx, d.cfg.Tracer, req.Name, req.InstanceID)
		defer span.End()
	}
	now := time.Now().UTC()
	started := history.Event{
		Version:     history.VersionOf(history.ExecutionStarted),
		Kind:        history.ExecutionStarted,
		Timestamp:   now,
		Name:        req.Name,
		Input:       req.Input,
		ExecutionID: newUUID(),
		// The caller of the orchestration span is this request's span; its own span id is
		// fixed now, so that its activities can name it long before it is exported.
		Trace: tracing.NewOrchestrationTrace(ctx),
	}
	inst := &history.Instance{
		InstanceID:    req.InstanceID,
		Name:          req.Name,
		ExecutionID:   started.ExecutionID,
		Status:        history.StatusPending,
		Input:         req.Input,
		TraceID:       tracing.OrchestrationSpanContext(started).TraceID().String(),
		CreatedAt:     now,
		LastUpdatedAt: now,
		Executions:    1,
	}
	tp, ts := tracing.MessageTrace(ctx)
	// The message, and so its id, is made once: every attempt sends the same one. It says
	// that the document of this execution is written (Recorded), so the worker that begins
	// it needs no store read.
	newMessage := func() (queues.Message, error) {
		// An adopted start (createInstance) sends the recorded execution's: its id, input
		// and creation time, which the worker takes for the document's.
		started.ExecutionID, started.Input, started.Timestamp = inst.ExecutionID, inst.Input, inst.CreatedAt
		return controlMessage(history.ControlMessage{InstanceID: inst.InstanceID, ExecutionID: inst.ExecutionID,
			Event: started, Recorded: inst.Executions}, tp, ts)
	}
	msg, err := newMessage()
	if err != nil {
		return err
	}
	queue := d.controlQueue(inst.InstanceID)
	job := &startJob{inst: inst, queue: queue, msg: msg}
	d.starts.join(arrived, job, d.flushStarts)
	var outcome publishOutcome
	switch {
	case job.created == nil:
		outcome, err = publishConfirmed, nil
		if job.published != nil {
			outcome, err = d.publishReliably(ctx, queue, msg, job.published)
		}
	case errors.Is(job.created, history.ErrInstanceExists):
		// The id exists: replace it if it has ended, adopt the same start asked again, or
		// refuse; then send the start alone.
		if ae := d.createInstance(ctx, r, inst, job.created); ae != nil {
			return ae
		}
		if msg, err = newMessage(); err != nil {
			d.undoCreate(ctx, inst)
			return err
		}
		outcome, err = d.publishReliably(ctx, queue, msg, nil)
	default:
		return d.unavailable(r, "creating the instance", job.created)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	switch outcome {
	case publishRefused:
		d.undoCreate(ctx, inst)
		return d.unavailable(r, "sending the start message", err)
	case publishUnknown:
		if !d.refuseStart(ctx, inst, started, msg.ID) {
			d.log.Warn("start outcome unknown", logging.Instance(inst.InstanceID, trace.SpanContextFromContext(ctx), "execution", inst.ExecutionID, "err", err)...)
			return errorf(http.StatusServiceUnavailable, api.CodeUnavailable, fmt.Sprintf(
				"the outcome of the start of instance %q is unknown: the broker did not confirm the start message, "+
					"which may still be queued. Read the instance's status (GET /v1/instances/%s) before starting it again: "+
					"Running means it started; Failed with StartNotQueued means it has not started",
				inst.InstanceID, url.PathEscape(inst.InstanceID)))
		}
		// A worker has already begun the execution: the start was queued after all.
		d.log.Info("start confirmed by the worker's progress", logging.Instance(inst.InstanceID, trace.SpanContextFromContext(ctx), "err", err)...)
	}
	d.metrics.started()
	d.waiters.startedHere(inst)
	w.Header().Set("Location", "/v1/instances/"+url.PathEscape(inst.InstanceID))
	writeJSON(w, http.StatusAccepted, api.StatusOf(inst))
	return nil
}

// createInstance settles a create of inst that failed with err (ErrInstanceExists): an
// existing instance with the same id is replaced when it has ended (purged, then created
// again), adopted when it is the same start asked again, and a conflict otherwise. Its
// status is the history's, where the document may lag (see current).
func (d *Dispatcher) createInstance(ctx context.Context, r *http.Request, inst *history.Instance, err error) *apiError {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			octx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
			err = d.store.CreateInstance(octx, inst)
			cancel()
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, history.ErrInstanceExists) {
			return d.unavailable(r, "creating the instance", err)
		}
		octx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
		old, err := d.store.GetInstance(octx, inst.InstanceID)
		cancel()
		switch {
		case errors.Is(err, history.ErrInstanceNotFound) && attempt < 3:
			continue // purged in between: create again
		case errors.Is(err, history.ErrInstanceNotFound):
			return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
				"instance %q is being created and purged concurrently; try again", inst.InstanceID))
		case err != nil:
			return d.unavailable(r, "reading the existing instance", err)
		}
		cur, err := d.current(ctx, old)
		switch {
		case err != nil:
			return d.unavailable(r, "reading the existing instance's history", err)
		case adoptable(cur, inst):
			// The same start, asked again after an answer that was lost or an error whose
			// create took effect all the same: its start message goes out (again) for the
			// recorded execution, and a worker runs it once.
			*inst = *cur
			return nil
		case !cur.Status.Terminal() || attempt > 0:
			return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
				"instance %q already exists and is %s; terminate it (and wait for it to end) or choose another id",
				inst.InstanceID, cur.Status))
		}
		if err := d.catchUp(ctx, old, cur); err != nil {
			return d.unavailable(r, "recording the end of the existing instance", err)
		}
		octx, cancel = context.WithTimeout(ctx, d.cfg.OpTimeout)
		err = d.store.Purge(octx, inst.InstanceID)
		cancel()
		if err != nil && !errors.Is(err, history.ErrInstanceNotFound) {
			if errors.Is(err, history.ErrNotTerminal) {
				return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
					"instance %q was restarted meanwhile; choose another id", inst.InstanceID))
			}
			return d.unavailable(r, "replacing the ended instance", err)
		}
		d.announceChanged(ctx, inst.InstanceID)
		d.log.Info("replacing ended instance", logging.Instance(inst.InstanceID, trace.SpanContextFromContext(ctx), "was", cur.Status)...)
		// Later than every version of the ended instance, so that a late write about it
		// (a worker's, the dispatcher's own) cannot overwrite the new one.
		inst.Executions = cur.Executions + 1
	}
}

// adoptable reports whether old is the document of the very start asked for again: not
// begun by any worker, same orchestrator and input.
func adoptable(old, want *history.Instance) bool {
	return old.Status == history.StatusPending && old.LastEpisode == 0 &&
		old.Name == want.Name && bytes.Equal(old.Input, want.Input)
}

// undoCreate removes an instance whose start message was never queued. The store deletes
// only ended instances, so the document is first marked Failed (which is also what a
// reader sees should the purge fail too).
func (d *Dispatcher) undoCreate(ctx context.Context, inst *history.Instance) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.OpTimeout)
	defer cancel()
	failed := startNotQueued(inst, "the dispatcher could not send the start message; the start was refused")
	err := d.store.UpdateInstance(ctx, failed)
	if err == nil {
		err = d.store.Purge(ctx, inst.InstanceID)
	}
	if err != nil {
		d.log.Error("could not remove the instance of a failed start", logging.Instance(inst.InstanceID, trace.SpanContextFromContext(ctx), "err", err)...)
	}
}

// refuseStart makes the refusal of a start whose outcome is unknown durable where workers
// look: it commits episode 1 of the execution, the start (as consumed, message msgID) and
// its failure with StartNotQueued. A worker that receives the start later finds episode 1
// taken and drops it. The document is then written Failed at episode 1. It reports true
// when episode 1 was taken already: a worker has begun the execution, the start was queued.
// When the commit fails otherwise the document alone is marked (markStartUnknown).
func (d *Dispatcher) refuseStart(ctx context.Context, inst *history.Instance, started history.Event, msgID string) (taken bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.OpTimeout)
	defer cancel()
	failed := startNotQueued(inst, "the dispatcher could not confirm the start message and refused the start: "+
		"it does not run, even if the message was queued")
	started.MessageID = msgID
	ep := &history.Episode{InstanceID: inst.InstanceID, ExecutionID: inst.ExecutionID, Number: 1,
		Events: []history.Event{started, {Version: history.VersionOf(history.ExecutionFailed), Kind: history.ExecutionFailed,
			Timestamp: failed.LastUpdatedAt, Failure: failed.Failure}},
		Consumed: []string{msgID}, CommittedAt: failed.LastUpdatedAt}
	err := d.store.CommitEpisodes(ctx, []*history.Episode{ep})[0]
	switch {
	case errors.Is(err, history.ErrEpisodeConflict):
		return true
	case err != nil:
		d.log.Error("could not refuse an unconfirmed start in the history; marking its document", logging.Instance(inst.InstanceID, trace.SpanContextFromContext(ctx), "err", err)...)
		return d.markStartUnknown(ctx, inst)
	}
	failed.LastEpisode = 1
	if err := d.store.UpdateInstance(ctx, failed); err != nil && !errors.Is(err, history.ErrStaleInstance) {
		// The history says Failed; the document catches up when a decision reads it.
		d.log.Error("could not write the document of a refused start", logging.Instance(inst.InstanceID, trace.SpanContextFromContext(ctx), "err", err)...)
	}
	return false
}

// markStartUnknown records, in the document alone, that the start message of inst may or
// may not be queued: the document becomes Failed with StartNotQueued at episode 0 of the
// execution, and is not purged, since a worker may yet run the start (it then moves the
// document on, which the store lets outrank this version). It reports true when the store
// already holds a newer version: a worker has taken the start.
func (d *Dispatcher) markStartUnknown(ctx context.Context, inst *history.Instance) (taken bool) {
	failed := startNotQueued(inst, "the dispatcher could not confirm the start message; if it was queued after all, "+
		"the instance runs and this status changes to Running")
	err := d.store.UpdateInstance(ctx, failed)
	switch {
	case errors.Is(err, history.ErrStaleInstance):
		return true
	case err != nil:
		// The document stays Pending: right if the start was queued, stuck if not.
		d.log.Error("could not mark the instance of an unconfirmed start", logging.Instance(inst.InstanceID, trace.SpanContextFromContext(ctx), "err", err)...)
	}
	return false
}

// startNotQueued is inst failed at episode 0 because its start was not (known to be)
// queued.
func startNotQueued(inst *history.Instance, why string) *history.Instance {
	failed := *inst
	failed.Status = history.StatusFailed
	failed.Failure = &history.Failure{Type: failureStartNotQueued, Message: why}
	failed.LastEpisode = 0
	failed.LastUpdatedAt = time.Now().UTC()
	return &failed
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
