package ui

import (
	"net/http"
	"net/url"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/queues"
)

type queuesPage struct {
	DeadLetters     []api.DeadLetter
	DeadLettersNext string
	DeadLetterError string // listing them, or the failed redrive
	Redriven        string // the dead letter just redriven
	Control         []queues.QueueDepth
	Others          []queues.QueueDepth // work items, dead letters
	Timers          []queues.QueueDepth
	TimerTotal      int
	Error           string
}

// queuesPage shows the depth of each of the hub's queues as the broker reports it.
func (d *Dashboard) queues(w http.ResponseWriter, r *http.Request) {
	d.renderQueues(w, r, http.StatusOK, "")
}

// deadLetterPage is how many dead letters the queues page lists at once.
const deadLetterPage = 50

// renderQueues shows the queues page; redriveErr is a failed redrive's error, to show in
// place.
func (d *Dashboard) renderQueues(w http.ResponseWriter, r *http.Request, status int, redriveErr string) {
	p := queuesPage{Redriven: r.URL.Query().Get("redriven")}
	ctx, cancel := d.apiContext(r)
	defer cancel()
	if dl, err := d.cfg.API.DeadLetters(ctx, deadLetterPage, r.URL.Query().Get("cursor")); err != nil {
		p.DeadLetterError = "Listing the dead letters failed: " + err.Error()
	} else {
		p.DeadLetters, p.DeadLettersNext = dl.DeadLetters, dl.NextCursor
	}
	if redriveErr != "" {
		p.DeadLetterError = redriveErr
	}
	if d.cfg.Depths == nil {
		p.Error = "This dispatcher's broker does not report queue depths."
	} else {
		all, err := d.cfg.Depths(ctx)
		if err != nil {
			p.Error = "The broker did not say: " + err.Error()
			if status == http.StatusOK {
				status = http.StatusBadGateway
			}
		}
		for _, q := range all {
			switch q.Role {
			case "control":
				p.Control = append(p.Control, q)
			case "timer":
				p.Timers = append(p.Timers, q)
				p.TimerTotal += q.Messages
			default:
				p.Others = append(p.Others, q)
			}
		}
	}
	d.render(w, r, status, "queues", "Queues", "queues", p)
}

type redrivePage struct {
	ID string
}

// redrive sends a dead letter again to the queue it died in, after a confirmation.
func (d *Dashboard) redrive(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if r.PostFormValue("confirmed") != "yes" {
		d.render(w, r, http.StatusOK, "redrive", "Confirm redrive", "queues", redrivePage{ID: id})
		return
	}
	ctx, cancel := d.apiContext(r)
	defer cancel()
	if _, err := d.cfg.API.Redrive(ctx, id); err != nil {
		d.cfg.Logger.Info("ui: redrive refused", "deadLetter", id, "err", err)
		d.renderQueues(w, r, apiStatus(err), "Redriving "+id+" failed: "+err.Error())
		return
	}
	d.cfg.Logger.Info("ui: dead letter redriven", "deadLetter", id)
	http.Redirect(w, r, "/ui/queues?redriven="+url.QueryEscape(id), http.StatusSeeOther)
}
