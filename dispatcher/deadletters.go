package dispatcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/pause"
	"github.com/warrenhq/warren/queues"
)

// AMQP cannot list a queue, so the dispatcher moves what reaches the hub's dead-letter
// queue into the store (history.DeadLetterStore), where it can be listed and redriven:
// GET /v1/deadletters and POST /v1/deadletters/{id}/redrive, `client deadletters|redrive`
// and the dashboard's queues page. Each dead letter is acked only once its record is
// written; a store that does not answer leaves it in the queue, tried again a second later.

// consumeFunc subscribes handle to a queue and returns what cancels the subscription: the
// broker's Consume (queues.Conn's, or the in-memory broker's in tests).
type consumeFunc func(ctx context.Context, queue string, prefetch int, handle func(*queues.Delivery)) (cancel func() error, err error)

// collectDeadLetters consumes the hub's dead-letter queue into store until ctx ends or the
// returned cancel is called.
func (d *Dispatcher) collectDeadLetters(ctx context.Context, consume consumeFunc, store history.DeadLetterStore) (cancel func() error, err error) {
	return consume(ctx, queues.DeadLetterQueue(d.cfg.Hub), 16, func(dl *queues.Delivery) {
		if d.renewsWorkItem(dl.Message) {
			if err := d.renewWorkItem(ctx, dl.Message); err != nil {
				d.log.Warn("renewing a work item the broker dead-lettered failed; it stays in the dead-letter queue", "id", dl.Message.ID, "err", err)
				_ = pause.For(ctx, time.Second)
				_ = dl.Nack(true)
				return
			}
			d.log.Info("work item renewed after the broker's delivery limit", "id", dl.Message.ID, "instance", dl.Message.InstanceID,
				"deliveries", dl.Message.PriorDeliveries+queues.DefaultDeliveryLimit)
			_ = dl.Ack()
			return
		}
		rec := deadLetterOf(dl.Message, time.Now())
		octx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
		err := store.PutDeadLetter(octx, rec)
		if errors.Is(err, history.ErrTooLarge) { // keep what fits: it can be read, not redriven
			rec.Body, rec.Truncated = rec.Body[:min(len(rec.Body), truncatedBody)], true
			err = store.PutDeadLetter(octx, rec)
		}
		cancel()
		if err != nil {
			d.log.Warn("keeping a dead letter failed; it stays in the dead-letter queue", "id", rec.ID, "err", err)
			_ = pause.For(ctx, time.Second) // do not spin on a store that is away
			_ = dl.Nack(true)
			return
		}
		d.log.Info("dead letter kept", "id", rec.ID, "kind", rec.Kind, "instance", rec.InstanceID, "queue", rec.SourceQueue, "reason", rec.Reason)
		_ = dl.Ack()
	})
}

// truncatedBody is how much of a body too large for one record is kept.
const truncatedBody = 1 << 20

// deadLetterOf is the record of a message read from the dead-letter queue. Its id is the
// message id and a digest of where and why it died (or of the whole message when it has no
// id), so a redelivered dead letter keeps one record. Its strings are made valid UTF-8
// without NUL, which no store can keep (a poison message's headers may hold anything).
func deadLetterOf(m queues.Message, now time.Time) history.DeadLetter {
	for _, s := range []*string{&m.ID, &m.Kind, &m.InstanceID, &m.Reason, &m.SourceQueue, &m.TraceParent, &m.TraceState} {
		*s = strings.ReplaceAll(strings.ToValidUTF8(*s, "\uFFFD"), "\x00", "\uFFFD")
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", m.SourceQueue, m.Reason, m.Kind)
	if m.ID == "" {
		h.Write(m.Body)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:12]
	id := sum
	if m.ID != "" {
		id = m.ID
		if len(id) > 200 {
			id = strings.ToValidUTF8(id[:200], "")
		}
		id += "~" + sum
	}
	return history.DeadLetter{ID: id, MessageID: m.ID, Kind: m.Kind, InstanceID: m.InstanceID, Reason: m.Reason,
		SourceQueue: m.SourceQueue, Body: m.Body, TraceParent: m.TraceParent, TraceState: m.TraceState,
		PublishedAt: m.Timestamp.UTC(), DeadAt: now.UTC().Truncate(time.Millisecond)}
}

// deadLetterStore is the store's dead-letter side, or a 501 when it has none.
func (d *Dispatcher) deadLetterStore() (history.DeadLetterStore, *apiError) {
	s, ok := d.store.(history.DeadLetterStore)
	if !ok {
		return nil, errorf(http.StatusNotImplemented, api.CodeUnavailable, "this dispatcher's store does not keep dead letters")
	}
	return s, nil
}

// excerptLen is how much of a dead letter's body the listing shows.
const excerptLen = 512

// deadLetterView is what the API shows of a record.
func deadLetterView(r history.DeadLetter) api.DeadLetter {
	ex := r.Body
	if len(ex) > excerptLen {
		ex = ex[:excerptLen]
	}
	for len(ex) > 0 && !utf8.Valid(ex) && len(r.Body)-len(ex) < 4 { // a rune cut at the end
		ex = ex[:len(ex)-1]
	}
	return api.DeadLetter{ID: r.ID, MessageID: r.MessageID, Kind: r.Kind, InstanceID: r.InstanceID, Reason: r.Reason,
		SourceQueue: r.SourceQueue, PublishedAt: r.PublishedAt, DeadAt: r.DeadAt, BodyBytes: len(r.Body), Truncated: r.Truncated,
		BodyExcerpt: strings.ToValidUTF8(string(ex), "\uFFFD")}
}

func (d *Dispatcher) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	s, ae := d.deadLetterStore()
	if ae != nil {
		return ae
	}
	size := 100
	if v := r.URL.Query().Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf(
				"pageSize %q: want a whole number from 1 to %d", v, MaxPageSize))
		}
		size = n
	}
	ctx, cancel := d.opContext(r)
	defer cancel()
	page, next, err := s.ListDeadLetters(ctx, size, r.URL.Query().Get("cursor"))
	if err != nil {
		if isStoreArgError(err) {
			return errorf(http.StatusBadRequest, api.CodeInvalidArgument, err.Error())
		}
		return d.unavailable(r, "listing dead letters", err)
	}
	resp := api.DeadLettersResponse{DeadLetters: make([]api.DeadLetter, 0, len(page)), NextCursor: next}
	for _, rec := range page {
		resp.DeadLetters = append(resp.DeadLetters, deadLetterView(rec))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// redrive publishes a dead letter again, as it was, to the queue it died in, then forgets
// it. Only the hub's control and work-item queues are redriven to.
func (d *Dispatcher) redrive(w http.ResponseWriter, r *http.Request) error {
	s, ae := d.deadLetterStore()
	if ae != nil {
		return ae
	}
	id := r.PathValue("id")
	ctx, cancel := d.opContext(r)
	defer cancel()
	rec, err := s.GetDeadLetter(ctx, id)
	switch {
	case errors.Is(err, history.ErrDeadLetterNotFound):
		return errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("dead letter %q not found (redriven or never kept)", id))
	case isStoreArgError(err):
		return errorf(http.StatusBadRequest, api.CodeInvalidArgument, err.Error())
	case err != nil:
		return d.unavailable(r, "reading the dead letter", err)
	}
	if rec.Truncated {
		return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
			"dead letter %q was too large to keep whole (only its first %d bytes are kept); it cannot be redriven", id, len(rec.Body)))
	}
	if !d.redrivable(rec.SourceQueue) {
		return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
			"dead letter %q came from %q, which is not one of this hub's control or work-item queues; it cannot be redriven", id, rec.SourceQueue))
	}
	msg := queues.Message{ID: rec.MessageID, Kind: rec.Kind, InstanceID: rec.InstanceID, Body: rec.Body,
		TraceParent: rec.TraceParent, TraceState: rec.TraceState, Timestamp: rec.PublishedAt}
	// Forget the record before sending: a poison message dies again within milliseconds,
	// and its new record must not race this delete (FerretDB's upsert is a read and a
	// write). Only the record read is deleted, so two redrives send it once. Should the
	// publish fail, the record is put back.
	err = s.DeleteDeadLetter(ctx, id, rec.DeadAt)
	switch {
	case errors.Is(err, history.ErrDeadLetterNotFound):
		return errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("dead letter %q was redriven meanwhile", id))
	case err != nil:
		return d.unavailable(r, "forgetting the dead letter", err)
	}
	if err := d.publish(ctx, rec.SourceQueue, msg); err != nil {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.OpTimeout)
		defer cancel()
		if perr := s.PutDeadLetter(pctx, *rec); perr != nil {
			d.log.Error("a dead letter was lost: its redrive failed and it could not be kept again", "id", id, "err", perr, "publish", err)
		}
		return d.unavailable(r, "publishing the dead letter again", err)
	}
	d.log.Info("dead letter redriven", "id", id, "queue", rec.SourceQueue)
	writeJSON(w, http.StatusOK, deadLetterView(*rec))
	return nil
}

// redrivable reports whether queue is one of the hub's control queues or its work items.
func (d *Dispatcher) redrivable(queue string) bool {
	if queue == queues.WorkItemQueue(d.cfg.Hub) {
		return true
	}
	for p := range d.cfg.Partitions {
		if queue == queues.ControlQueue(d.cfg.Hub, p) {
			return true
		}
	}
	return false
}
