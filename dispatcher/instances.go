package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/logging"
)

// getInstance reads the instance named in the path: 400 for an invalid id, 404 when there
// is none.
func (d *Dispatcher) getInstance(r *http.Request) (*history.Instance, error) {
	id := r.PathValue("id")
	if ae := validInstanceID(id); ae != nil {
		return nil, ae
	}
	ctx, cancel := d.opContext(r)
	defer cancel()
	inst, err := d.store.GetInstance(ctx, id)
	if errors.Is(err, history.ErrInstanceNotFound) {
		return nil, errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("instance %q not found", id))
	}
	if err != nil {
		return nil, d.unavailable(r, "reading the instance", err)
	}
	return inst, nil
}

func (d *Dispatcher) status(w http.ResponseWriter, r *http.Request) error {
	withHistory, ae := boolParam(r, "history")
	if ae != nil {
		return ae
	}
	inst, err := d.getInstance(r)
	if err != nil {
		return err
	}
	if !withHistory {
		writeJSON(w, http.StatusOK, api.StatusOf(inst))
		return nil
	}
	ctx, cancel := d.opContext(r)
	defer cancel()
	eps, err := d.store.LoadHistory(ctx, inst.InstanceID, inst.ExecutionID)
	if err != nil {
		return d.unavailable(r, "reading the history", err)
	}
	events := []history.Event{}
	for _, ep := range eps {
		events = append(events, ep.Events...)
	}
	writeJSON(w, http.StatusOK, api.StatusWithHistory{Status: api.StatusOf(inst), History: events})
	return nil
}

var allStatuses = []history.Status{
	history.StatusPending, history.StatusRunning, history.StatusSuspended, history.StatusCompleted,
	history.StatusFailed, history.StatusTerminated, history.StatusContinuedAsNew,
}

// MaxPageSize caps the pageSize of a list request.
const MaxPageSize = 1000

func (d *Dispatcher) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var f history.ListFilter
	for _, v := range q["status"] {
		for _, s := range strings.Split(v, ",") {
			st, ok := parseStatus(strings.TrimSpace(s))
			if !ok {
				return errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf(
					"unknown status %q; want one of %s", s, statusNames()))
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	f.Name = q.Get("name")
	if f.ParentID = q.Get("parent"); f.ParentID != "" {
		if ae := validInstanceID(f.ParentID); ae != nil {
			return ae
		}
	}
	var ae *apiError
	if f.CreatedFrom, ae = timeParam(r, "createdFrom"); ae != nil {
		return ae
	}
	if f.CreatedTo, ae = timeParam(r, "createdTo"); ae != nil {
		return ae
	}
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf(
				"pageSize %q: want a whole number from 1 to %d", v, MaxPageSize))
		}
		f.PageSize = n
	}
	f.Cursor = q.Get("cursor")
	ctx, cancel := d.opContext(r)
	defer cancel()
	page, next, err := d.store.ListInstances(ctx, f)
	if err != nil {
		if isStoreArgError(err) {
			return errorf(http.StatusBadRequest, api.CodeInvalidArgument, err.Error())
		}
		return d.unavailable(r, "listing instances", err)
	}
	resp := api.ListResponse{Instances: make([]api.Status, 0, len(page)), NextCursor: next}
	for i := range page {
		resp.Instances = append(resp.Instances, api.StatusOf(&page[i]))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func parseStatus(s string) (history.Status, bool) {
	for _, st := range allStatuses {
		if strings.EqualFold(s, string(st)) {
			return st, true
		}
	}
	return "", false
}

func statusNames() string {
	names := make([]string, len(allStatuses))
	for i, s := range allStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func timeParam(r *http.Request, name string) (time.Time, *apiError) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf(
			"%s %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", name, v))
	}
	return t, nil
}

func boolParam(r *http.Request, name string) (bool, *apiError) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf("%s %q: want true or false", name, v))
	}
	return b, nil
}

// wait answers when the instance has ended, or with 408 and its current status when the
// timeout passes first. It learns of the end from the worker's announcement, which carries
// the ended document (or, when it does not, reads the store then); it also reads the store now and then (every 20 ms at first, backing off to the
// waiters' poll interval) in case a notice was lost.
func (d *Dispatcher) wait(w http.ResponseWriter, r *http.Request) error {
	timeout := d.cfg.WaitTimeout
	if v := r.URL.Query().Get("timeout"); v != "" {
		t, err := time.ParseDuration(v)
		if err != nil {
			if n, nerr := strconv.Atoi(v); nerr == nil {
				t, err = time.Duration(n)*time.Second, nil
			}
		}
		if err != nil || t < 0 {
			return errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf(
				"timeout %q: want a duration such as 30s or 5m", v))
		}
		timeout = min(t, d.cfg.MaxWait)
	}
	// Registered before the first read, so that an end announced in between is not missed.
	ended, forget := d.waiters.add(r.PathValue("id"))
	defer forget()
	// An instance this dispatcher started moments ago needs no read: its document as
	// written at the start stands in, and the announcement of its end (or the safety read
	// after firstPoll) moves it on. Nor does one whose end has been announced (and not
	// changed since: announceChanged).
	inst, ok := d.waiters.startDoc(r.PathValue("id"))
	if !ok {
		inst, ok = d.waiters.announcedEnd(r.PathValue("id"))
	}
	if !ok {
		var err error
		if inst, err = d.getInstance(r); err != nil {
			return err
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	interval := d.waiters.firstPoll()
	for !inst.Status.Terminal() {
		select {
		case got := <-ended:
			ended = nil // woken once
			// The announced document answers, unless it is older than what was read (an
			// announcement of an execution before a restart).
			if got != nil && !inst.Newer(got) {
				inst = got
				continue
			}
		case <-r.Context().Done():
			return nil // the caller left, or the server is shutting down
		case <-deadline.C:
			// What the answer reports is read now: the document the wait began with may be
			// the one written at the start.
			ctx, cancel := context.WithTimeout(r.Context(), d.cfg.OpTimeout)
			if next, err := d.store.GetInstance(ctx, inst.InstanceID); err == nil && !inst.Newer(next) {
				inst = next
			}
			cancel()
			if inst.Status.Terminal() {
				continue
			}
			st := api.StatusOf(inst)
			return &apiError{status: http.StatusRequestTimeout, body: api.ErrorBody{
				Error:  fmt.Sprintf("instance %q is still %s after %s", inst.InstanceID, inst.Status, timeout),
				Code:   api.CodeTimeout,
				Status: &st,
			}}
		case <-time.After(interval):
		}
		interval = min(interval*2, d.waiters.pollEvery())
		ctx, cancel := context.WithTimeout(r.Context(), d.cfg.OpTimeout)
		next, err := d.store.GetInstance(ctx, inst.InstanceID)
		cancel()
		switch {
		case errors.Is(err, history.ErrInstanceNotFound):
			return errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("instance %q was purged while waiting", inst.InstanceID))
		case err != nil:
			d.log.Warn("wait: reading the instance failed; retrying", logging.InstanceTrace(inst.InstanceID, inst.TraceID, "err", err)...)
		default:
			inst = next
		}
	}
	writeJSON(w, http.StatusOK, api.StatusOf(inst))
	return nil
}

// purge deletes an ended instance. The store refuses while the document has not ended;
// since the document may lag its history, purge then reads the history, and an execution
// that has ended there is written into the document and purged after all. With
// ?recursive=true it purges the instance's sub-orchestrations too, at any depth, and
// answers 200 {"purged": n}; without, 204.
func (d *Dispatcher) purge(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if ae := validInstanceID(id); ae != nil {
		return ae
	}
	recursive, ae := boolParam(r, "recursive")
	if ae != nil {
		return ae
	}
	var purged int
	var err error
	if recursive {
		purged, err = d.purgeTree(r.Context(), id)
		if purged > 0 {
			d.announceChanged(r.Context(), "") // its sub-orchestrations went too
		}
	} else {
		err = d.purgeEnded(r.Context(), id)
		if err == nil {
			d.announceChanged(r.Context(), id)
		}
	}
	switch {
	case errors.Is(err, history.ErrInstanceNotFound):
		return errorf(http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("instance %q not found", id))
	case errors.Is(err, history.ErrNotTerminal) && recursive:
		msg := err.Error() + "; only Completed, Failed or Terminated instances can be purged (terminate it first, recursively)"
		if purged == 0 {
			msg += "; nothing was purged"
		}
		return errorf(http.StatusConflict, api.CodeConflict, msg)
	case errors.Is(err, history.ErrNotTerminal):
		return errorf(http.StatusConflict, api.CodeConflict, fmt.Sprintf(
			"instance %q has not ended; only Completed, Failed or Terminated instances can be purged (terminate it first)", id))
	case errors.Is(err, errTreeTooLarge):
		return errorf(http.StatusUnprocessableEntity, api.CodeInvalidArgument, fmt.Sprintf(
			"instance %q: %v; nothing was purged", id, err))
	case err != nil:
		return d.unavailable(r, "purging the instance", err)
	}
	if recursive {
		d.log.Info("purged an instance with its sub-orchestrations", "instance", id, "count", purged)
		writeJSON(w, http.StatusOK, api.PurgeResponse{Purged: purged})
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// purgeEnded purges id, catching its document up with its history first when the store
// refuses because the document has not ended.
func (d *Dispatcher) purgeEnded(ctx context.Context, id string) error {
	octx, cancel := context.WithTimeout(ctx, d.cfg.OpTimeout)
	err := d.store.Purge(octx, id)
	cancel()
	if !errors.Is(err, history.ErrNotTerminal) {
		return err
	}
	octx, cancel = context.WithTimeout(ctx, d.cfg.OpTimeout)
	doc, err := d.store.GetInstance(octx, id)
	cancel()
	if err != nil {
		return err
	}
	cur, err := d.current(ctx, doc)
	if err != nil {
		return err
	}
	if !cur.Status.Terminal() {
		return fmt.Errorf("purge %q: %w", id, history.ErrNotTerminal)
	}
	if err := d.catchUp(ctx, doc, cur); err != nil {
		return err
	}
	octx, cancel = context.WithTimeout(ctx, d.cfg.OpTimeout)
	defer cancel()
	return d.store.Purge(octx, id)
}
