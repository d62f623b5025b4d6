package ui

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
)

// Statuses in the order the dashboard shows them.
var statuses = []history.Status{
	history.StatusPending, history.StatusRunning, history.StatusSuspended, history.StatusCompleted,
	history.StatusFailed, history.StatusTerminated, history.StatusContinuedAsNew,
}

// listFilter is the instances page's filter as the form holds it: the text the user typed,
// so that a bad value is shown back as typed with the API's error.
type listFilter struct {
	Status      string
	Name        string
	Parent      string
	CreatedFrom string // RFC 3339, or a datetime-local value
	CreatedTo   string
	PageSize    string
	Cursor      string
}

func filterOf(r *http.Request) listFilter {
	q := r.URL.Query()
	return listFilter{Status: q.Get("status"), Name: strings.TrimSpace(q.Get("name")), Parent: strings.TrimSpace(q.Get("parent")),
		CreatedFrom: strings.TrimSpace(q.Get("createdFrom")), CreatedTo: strings.TrimSpace(q.Get("createdTo")),
		PageSize: q.Get("pageSize"), Cursor: q.Get("cursor")}
}

// options turns the form into the API's list options; a time that does not parse is the
// user's mistake, said in words.
func (f listFilter) options() (client.ListOptions, string) {
	o := client.ListOptions{Name: f.Name, ParentID: f.Parent, Cursor: f.Cursor, PageSize: 50}
	if f.Status != "" {
		o.Statuses = []history.Status{history.Status(f.Status)}
	}
	var msg string
	if o.CreatedFrom, msg = parseTime("created from", f.CreatedFrom); msg != "" {
		return o, msg
	}
	if o.CreatedTo, msg = parseTime("created to", f.CreatedTo); msg != "" {
		return o, msg
	}
	if f.PageSize != "" {
		n, err := strconv.Atoi(f.PageSize)
		if err != nil || n < 1 {
			return o, "page size " + strconv.Quote(f.PageSize) + " is not a positive whole number"
		}
		o.PageSize = n
	}
	return o, ""
}

// parseTime reads RFC 3339 or the browser's datetime-local form (taken as UTC).
func parseTime(what, v string) (time.Time, string) {
	if v == "" {
		return time.Time{}, ""
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, ""
		}
	}
	return time.Time{}, what + " " + strconv.Quote(v) + " is not a time such as 2026-01-02T15:04:05Z"
}

// statusCount is one status's count, with the link that filters by it.
type statusCount struct {
	Status history.Status
	Count  int64
}

type instancesPage struct {
	Filter    listFilter
	Statuses  []history.Status
	Counts    []statusCount
	Total     int64
	Instances []api.Status
	Next      string
	Error     string
	Purged    string // the instance just purged from its page
}

func (d *Dashboard) instances(w http.ResponseWriter, r *http.Request) {
	f := filterOf(r)
	p := instancesPage{Filter: f, Statuses: statuses, Purged: r.URL.Query().Get("purged")}
	o, msg := f.options()
	status := http.StatusOK
	if msg != "" {
		p.Error, status = msg, http.StatusBadRequest
	} else {
		ctx, cancel := d.apiContext(r)
		defer cancel()
		var err error
		p.Instances, p.Next, err = d.cfg.API.List(ctx, o)
		if err != nil {
			p.Error, status = err.Error(), apiStatus(err)
		} else {
			p.Counts, p.Total, err = d.counts(ctx, history.ListFilter{Name: o.Name, ParentID: o.ParentID,
				CreatedFrom: o.CreatedFrom, CreatedTo: o.CreatedTo})
			if err != nil {
				p.Error = "counting the instances failed: " + err.Error()
			}
		}
	}
	d.render(w, r, status, "instances", "Instances", "instances", p)
}

// counts counts the instances of f in each status, the statuses asked at once.
func (d *Dashboard) counts(ctx context.Context, f history.ListFilter) ([]statusCount, int64, error) {
	if d.cfg.Count == nil {
		return nil, 0, nil
	}
	out := make([]statusCount, len(statuses))
	errs := make([]error, len(statuses))
	var wg sync.WaitGroup
	for i, s := range statuses {
		wg.Go(func() {
			g := f
			g.Statuses = []history.Status{s}
			out[i].Status = s
			out[i].Count, errs[i] = d.cfg.Count(ctx, g)
		})
	}
	wg.Wait()
	var total int64
	for i := range out {
		if errs[i] != nil {
			return nil, 0, errs[i]
		}
		total += out[i].Count
	}
	return out, total, nil
}

// apiStatus is the HTTP status of an API error, for the page that shows it. The client
// refuses some input before asking (event data that is not JSON): 400.
func apiStatus(err error) int {
	var ae *client.APIError
	switch {
	case errors.As(err, &ae):
		return ae.StatusCode
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusBadRequest
	}
}
