package ui

import (
	"net/http"

	"github.com/warrenhq/warren/queues"
)

type queuesPage struct {
	Control    []queues.QueueDepth
	Others     []queues.QueueDepth // work items, dead letters
	Timers     []queues.QueueDepth
	TimerTotal int
	Error      string
}

// queuesPage shows the depth of each of the hub's queues as the broker reports it.
func (d *Dashboard) queues(w http.ResponseWriter, r *http.Request) {
	var p queuesPage
	status := http.StatusOK
	if d.cfg.Depths == nil {
		p.Error, status = "This dispatcher's broker does not report queue depths.", http.StatusNotImplemented
	} else {
		ctx, cancel := d.apiContext(r)
		defer cancel()
		all, err := d.cfg.Depths(ctx)
		if err != nil {
			p.Error, status = "The broker did not say: "+err.Error(), http.StatusBadGateway
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
