package ui

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
)

// childPageSize is how many children an instance page lists at once; a fan-out of
// thousands is paged, and its counts by status say the rest.
const childPageSize = 50

type instancePage struct {
	I           api.Status
	ExecutionID string
	Input       json.RawMessage
	Causes      []*history.Failure
	Steps       []step
	TraceURL    string

	Children      []childNode
	ChildCounts   []statusCount
	ChildTotal    int64
	ChildStatus   string
	ChildCursor   string
	ChildNext     string
	ChildrenError string

	// The action that failed, if any, with what the user had typed.
	Action *actionForm
	// Done is the action the API just accepted (the page it redirected to says so).
	Done string
}

// actionForm is an action's form as submitted: the fields are shown back with the error
// next to the form, and on the confirmation page.
type actionForm struct {
	Name      string // raise, terminate, suspend, resume, purge, restart, rewind
	Event     string
	Data      string
	Reason    string
	Recursive bool
	Error     string
}

func (d *Dashboard) instance(w http.ResponseWriter, r *http.Request) {
	d.renderInstance(w, r, http.StatusOK, nil)
}

// renderInstance shows the instance named in the path; act is the failed action to show
// in place, or nil.
func (d *Dashboard) renderInstance(w http.ResponseWriter, r *http.Request, status int, act *actionForm) {
	id := r.PathValue("id")
	ctx, cancel := d.apiContext(r)
	defer cancel()
	sh, err := d.cfg.API.History(ctx, id)
	if err != nil {
		if act != nil { // the action's error matters more than the page's
			err = &pageError{msg: act.Error + "; then reading the instance failed: " + err.Error()}
		}
		d.renderError(w, r, apiStatus(err), err.Error())
		return
	}
	p := instancePage{I: sh.Status, Causes: causes(sh.Failure), Steps: timeline(sh.History), Action: act}
	for _, e := range sh.History {
		if e.Kind == history.ExecutionStarted {
			p.Input, p.ExecutionID = e.Input, e.ExecutionID
		}
	}
	if d.cfg.JaegerURL != "" && sh.TraceID != "" {
		p.TraceURL = strings.TrimRight(d.cfg.JaegerURL, "/") + "/trace/" + sh.TraceID
	}
	q := r.URL.Query()
	if _, ok := actions[q.Get("done")]; ok && act == nil {
		p.Done = q.Get("done")
	}
	p.ChildStatus, p.ChildCursor = q.Get("childStatus"), q.Get("childCursor")
	o := client.ListOptions{ParentID: id, PageSize: childPageSize, Cursor: p.ChildCursor}
	if p.ChildStatus != "" {
		o.Statuses = []history.Status{history.Status(p.ChildStatus)}
	}
	children, next, err := d.cfg.API.List(ctx, o)
	if err == nil {
		budget := maxExpanded
		p.Children, p.ChildNext = d.tree(ctx, r.URL, children, q["expand"], &budget), next
		p.ChildCounts, p.ChildTotal, err = d.counts(ctx, history.ListFilter{ParentID: id})
	}
	if err != nil {
		p.ChildrenError = "listing the children failed: " + err.Error()
	}
	d.render(w, r, status, "instance", sh.InstanceID, "instances", p)
}

// pageError is a message for the error page.
type pageError struct{ msg string }

func (e *pageError) Error() string { return e.msg }
