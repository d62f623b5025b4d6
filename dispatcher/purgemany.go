package dispatcher

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

// purgeBatch is how many instances one store call of a bulk purge deletes, so that each
// call has a deadline of its own (the store deletes them in batches of the same size).
const purgeBatch = 500

// purgeParams are the query parameters DELETE /v1/instances takes.
var purgeParams = []string{"status", "name", "createdFrom", "createdTo"}

// purgeMany purges the ended instances a filter selects, with their histories:
// DELETE /v1/instances?status=Completed&status=Failed&name=X&createdFrom=T&createdTo=T →
// 200 {"purged": n}. It goes by the instance documents, which may lag their histories by
// about a second: an instance that has just ended may be left for the next purge. A
// request that names no status and no created window is refused, so that a stray DELETE
// cannot empty the hub.
func (d *Dispatcher) purgeMany(w http.ResponseWriter, r *http.Request) error {
	f, ae := purgeFilter(r)
	if ae != nil {
		return ae
	}
	purged := 0
	defer func() {
		if purged > 0 {
			d.announceChanged(r.Context(), "")
		}
	}()
	for {
		ctx, cancel := d.opContext(r)
		f.Limit = purgeBatch
		n, err := d.store.PurgeInstances(ctx, f)
		cancel()
		purged += n
		switch {
		case isStoreArgError(err):
			return errorf(http.StatusBadRequest, api.CodeInvalidArgument, err.Error())
		case err != nil:
			return d.unavailable(r, fmt.Sprintf("purging instances (%d purged so far)", purged), err)
		}
		if n < purgeBatch {
			break
		}
	}
	d.log.Info("purged instances", "count", purged, "query", r.URL.RawQuery)
	writeJSON(w, http.StatusOK, api.PurgeResponse{Purged: purged})
	return nil
}

// purgeFilter reads and checks the query of a bulk purge.
func purgeFilter(r *http.Request) (history.PurgeFilter, *apiError) {
	var f history.PurgeFilter
	q := r.URL.Query()
	for k := range q {
		known := false
		for _, p := range purgeParams {
			known = known || k == p
		}
		if !known {
			return f, errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf(
				"unknown parameter %s; a purge takes %s", quoteShort(k), strings.Join(purgeParams, ", ")))
		}
	}
	for _, v := range q["status"] {
		for _, s := range strings.Split(v, ",") {
			st, ok := parseStatus(strings.TrimSpace(s))
			if !ok {
				return f, errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf(
					"unknown status %s; a purge takes Completed, Failed or Terminated", quoteShort(s)))
			}
			if !st.Terminal() {
				return f, errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf(
					"status %s has not ended and cannot be purged; a purge takes Completed, Failed or Terminated", st))
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if name := q.Get("name"); name != "" {
		if ae := validName("name", name); ae != nil {
			return f, ae
		}
		f.Name = name
	}
	var ae *apiError
	if f.CreatedFrom, ae = timeParam(r, "createdFrom"); ae != nil {
		return f, ae
	}
	if f.CreatedTo, ae = timeParam(r, "createdTo"); ae != nil {
		return f, ae
	}
	if len(f.Statuses) == 0 && f.CreatedFrom.IsZero() && f.CreatedTo.IsZero() {
		return f, errorf(http.StatusBadRequest, api.CodeInvalidArgument,
			"name at least one status or a created window (status=Completed, createdTo=2026-01-02T15:04:05Z); a purge without either is refused")
	}
	if _, err := f.PurgeStatuses(); err != nil {
		return f, errorf(http.StatusBadRequest, api.CodeInvalidArgument, err.Error())
	}
	return f, nil
}
