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

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
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

	ctx, span := d.startSpan(r, req.Name, req.InstanceID)
	defer span.End()
	now := time.Now().UTC()
	inst := &history.Instance{
		InstanceID:    req.InstanceID,
		Name:          req.Name,
		ExecutionID:   newUUID(),
		Status:        history.StatusPending,
		Input:         req.Input,
		TraceID:       span.traceID,
		CreatedAt:     now,
		LastUpdatedAt: now,
	}
	if ae := d.createInstance(ctx, r, inst); ae != nil {
		return ae
	}
	started := history.Event{
		Version:     history.SchemaVersion,
		Kind:        history.ExecutionStarted,
		Timestamp:   now,
		Name:        inst.Name,
		Input:       inst.Input,
		ExecutionID: inst.ExecutionID,
		Trace:       &history.TraceContext{TraceParent: span.traceParent, TraceState: span.traceState, SpanID: newSpanID()},
	}
	if err := d.publishEvent(ctx, inst.InstanceID, inst.ExecutionID, started, span.traceParent, span.traceState); err != nil {
		d.undoCreate(inst)
		span.fail(err)
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
		case errors.Is(err, history.ErrInstanceNotFound):
			continue // purged in between: create again
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

// createSpan is the create_orchestration span with the W3C context it hands on.
type createSpan struct {
	trace.Span
	traceID     string
	traceParent string
	traceState  string
}

func (s createSpan) fail(err error) {
	s.RecordError(err)
	s.SetStatus(codes.Error, err.Error())
}

// startSpan opens "create_orchestration <name>" as a child of the caller's context (W3C
// headers). Without a tracing SDK the span is not recorded and may carry no ids; the
// instance still gets a fresh trace id then, so that its workers' spans form one trace.
func (d *Dispatcher) startSpan(r *http.Request, name, instanceID string) (context.Context, createSpan) {
	ctx := extractTrace(r)
	ctx, span := d.cfg.Tracer.Start(ctx, "create_orchestration "+name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("warren.orchestration.name", name),
			attribute.String("warren.instance.id", instanceID),
			attribute.String("warren.hub", d.cfg.Hub),
		))
	sc := span.SpanContext()
	if !sc.IsValid() {
		var tid trace.TraceID
		var sid trace.SpanID
		_, _ = rand.Read(tid[:])
		_, _ = rand.Read(sid[:])
		sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	}
	return ctx, createSpan{
		Span:        span,
		traceID:     sc.TraceID().String(),
		traceParent: traceParentOf(sc),
		traceState:  sc.TraceState().String(),
	}
}

func traceParentOf(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

func newSpanID() string {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if b != [8]byte{} {
			return hex.EncodeToString(b[:])
		}
	}
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
