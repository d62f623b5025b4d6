package ui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/warrenhq/warren/internal/logging"
)

// actions are the operations the instance page offers, each through the API.
var actions = map[string]struct {
	title string // the confirmation's question, after "Do you want to"
	run   func(ctx context.Context, api API, id string, f *actionForm) error
}{
	"raise": {"raise this event on", func(ctx context.Context, api API, id string, f *actionForm) error {
		if f.Event == "" {
			return errNoEvent
		}
		return api.Raise(ctx, id, f.Event, json.RawMessage(f.Data))
	}},
	"terminate": {"terminate", func(ctx context.Context, api API, id string, f *actionForm) error {
		return api.Terminate(ctx, id, f.Reason, f.Recursive)
	}},
	"suspend": {"suspend", func(ctx context.Context, api API, id string, f *actionForm) error {
		return api.Suspend(ctx, id, f.Reason)
	}},
	"resume": {"resume", func(ctx context.Context, api API, id string, f *actionForm) error {
		return api.Resume(ctx, id, f.Reason)
	}},
	"purge": {"purge (delete, with its history)", func(ctx context.Context, api API, id string, _ *actionForm) error {
		return api.Purge(ctx, id)
	}},
	"restart": {"restart (run again as a new execution under the same id, with the input of its last execution)",
		func(ctx context.Context, api API, id string, _ *actionForm) error {
			_, err := api.Restart(ctx, id)
			return err
		}},
	"rewind": {"rewind (run again from just before its failure, keeping what completed)",
		func(ctx context.Context, api API, id string, f *actionForm) error {
			_, err := api.Rewind(ctx, id, f.Reason)
			return err
		}},
}

type confirmPage struct {
	InstanceID string
	Question   string
	Form       actionForm
}

// act runs one action on the instance. The form first comes back as a confirmation page;
// the confirmed form runs it. Success goes back to the instance (to the list after a
// purge); an error is shown on the instance page next to the action's form, and nothing
// has changed (the API refused it).
func (d *Dashboard) act(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("action")
	a, ok := actions[name]
	if !ok {
		d.renderError(w, r, http.StatusNotFound, "There is no action "+name+".")
		return
	}
	f := &actionForm{Name: name, Event: strings.TrimSpace(r.PostFormValue("event")), Data: r.PostFormValue("data"),
		Reason: r.PostFormValue("reason"), Recursive: r.PostFormValue("recursive") != ""}
	if r.PostFormValue("confirmed") != "yes" {
		d.render(w, r, http.StatusOK, "confirm", "Confirm "+name, "instances",
			confirmPage{InstanceID: id, Question: "Do you want to " + a.title + " " + id + "?", Form: *f})
		return
	}
	ctx, cancel := d.apiContext(r)
	defer cancel()
	if err := a.run(ctx, d.cfg.API, id, f); err != nil {
		f.Error = err.Error()
		d.cfg.Logger.Info("ui: action refused", "action", name, logging.InstanceIDKey, id, "err", err)
		d.renderInstance(w, r, apiStatus(err), f)
		return
	}
	d.cfg.Logger.Info("ui: action done", "action", name, logging.InstanceIDKey, id)
	if name == "purge" {
		http.Redirect(w, r, "/ui/instances?purged="+url.QueryEscape(id), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/ui/instances/"+url.PathEscape(id)+"?done="+name, http.StatusSeeOther)
}

// errNoEvent is the error of a raise without an event name.
var errNoEvent = errors.New("ui: name the event to raise")
