package ui

import (
	"net/http"
	"time"

	"github.com/warrenhq/warren/api"
)

type workersPage struct {
	Partitions int
	Workers    []api.Worker
	Now        time.Time
	Error      string
}

// workers lists the live workers: heartbeat age, the partitions each owns, what it hosts.
func (d *Dashboard) workers(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := d.apiContext(r)
	defer cancel()
	p := workersPage{Now: time.Now()}
	status := http.StatusOK
	wr, err := d.cfg.API.Workers(ctx)
	if err != nil {
		p.Error, status = err.Error(), apiStatus(err)
	} else {
		p.Partitions, p.Workers = wr.Partitions, wr.Workers
	}
	d.render(w, r, status, "workers", "Workers", "workers", p)
}
