package dispatcher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
	"github.com/warrenhq/warren/tracing"
)

// start creates an instance and sends its ExecutionStarted. The instance document is
// written first (so that a status read right after the answer finds it) and deleted again
// when the message cannot be published: nothing is left behind by a failed start.
func (d *Dispatcher) start(w http.ResponseWriter, r *http.Request) error {
	var req client.StartRequest
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
		Version:     history.SchemaVersion,
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
	}
	if ae := d.createInstance(ctx, r, inst); ae != nil {
		return ae
	}
	tp, ts := tracing.MessageTrace(ctx)
	if err := d.publishEvent(ctx, inst.InstanceID, inst.ExecutionID, started, tp, ts); err != nil {
		d.undoCreate(inst)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return d.unavailable(r, "sending the start message", err)
	}
	d.metrics.started()
	w.Header().Set("Location", "/v1/instances/"+url.PathEscape(inst.InstanceID))
	writeJSON(w, http.StatusAccepted, client.StatusOf(inst))
	return nil
}

// createInstance inserts inst; an existing instance with the same id is replaced when it
// has ended (purged, then created again) and is a conflict while it is live.
func (d *Dispatcher) createInstance(ctx context.Context, r *http.Request, inst *history.Instance) *apiError {
	for attempt := 0; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
		err := d.store.CreateInstance(octx, inst)
		cancel()
		if err == nil {
			return nil
		}
		if !errors.Is(err, history.ErrInstanceExists) {
			return d.unavailable(r, "creating the instance", err)
		}
		octx, cancel = context.WithTimeout(ctx, d.cfg.OpTimeout)
		old, err := d.store.GetInstance(octx, inst.InstanceID)
		cancel()
		switch {
		case errors.Is(err, history.ErrInstanceNotFound) && attempt < 3:
			continue // purged in between: create again
		case errors.Is(err, history.ErrInstanceNotFound):
			return errorf(http.StatusConflict, client.CodeConflict, fmt.Sprintf(
				"instance %q is being created and purged concurrently; try again", inst.InstanceID))
		case err != nil:
			return d.unavailable(r, "reading the existing instance", err)
		case !old.Status.Terminal() || attempt > 0:
			return errorf(http.StatusConflict, client.CodeConflict, fmt.Sprintf(
				"instance %q already exists and is %s; terminate it (and wait for it to end) or choose another id",
				inst.InstanceID, old.Status))
		}
		octx, cancel = context.WithTimeout(ctx, d.cfg.OpTimeout)
		err = d.store.Purge(octx, inst.InstanceID)
		cancel()
		if err != nil && !errors.Is(err, history.ErrInstanceNotFound) {
			if errors.Is(err, history.ErrNotTerminal) {
				return errorf(http.StatusConflict, client.CodeConflict, fmt.Sprintf(
					"instance %q was restarted meanwhile; choose another id", inst.InstanceID))
			}
			return d.unavailable(r, "replacing the ended instance", err)
		}
		d.log.Info("replacing ended instance", "instance", inst.InstanceID, "was", old.Status)
	}
}

// undoCreate removes an instance whose start message could not be sent. The store deletes
// only ended instances, so the document is first marked Failed (which is also what a
// reader sees should the purge fail too).
func (d *Dispatcher) undoCreate(inst *history.Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.OpTimeout)
	defer cancel()
	failed := *inst
	failed.Status = history.StatusFailed
	failed.Failure = &history.Failure{Type: "StartNotQueued", Message: "the dispatcher could not send the start message; the start was refused"}
	failed.LastUpdatedAt = time.Now().UTC()
	err := d.store.UpdateInstance(ctx, &failed)
	if err == nil {
		err = d.store.Purge(ctx, inst.InstanceID)
	}
	if err != nil {
		d.log.Error("could not remove the instance of a failed start", "instance", inst.InstanceID, "err", err)
	}
}

// publishEvent sends ev to the instance's control queue.
func (d *Dispatcher) publishEvent(ctx context.Context, instanceID, executionID string, ev history.Event, traceParent, traceState string) error {
	body, err := json.Marshal(history.ControlMessage{InstanceID: instanceID, ExecutionID: executionID, Event: ev})
	if err != nil {
		return err
	}
	msg := queues.Message{
		ID:          newUUID(),
		Kind:        string(ev.Kind),
		InstanceID:  instanceID,
		Body:        body,
		TraceParent: traceParent,
		TraceState:  traceState,
		Timestamp:   ev.Timestamp,
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
	defer cancel()
	q := queues.ControlQueue(d.cfg.Hub, queues.PartitionOf(instanceID, d.cfg.Partitions))
	if err := d.broker.Publish(ctx, q, msg); err != nil {
		d.metrics.publishFailed()
		return err
	}
	d.metrics.published(string(ev.Kind))
	return nil
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
