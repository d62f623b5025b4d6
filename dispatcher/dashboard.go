package dispatcher

import (
	"context"
	"net/http"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/queues"
)

// DashboardPrefix is the path the dashboard ([Config.Dashboard]) is served under.
const DashboardPrefix = "/ui/"

// DashboardSource is what the dispatcher gives the dashboard it serves ([Config.Dashboard]):
// the API's own routes, to read and act through in process, and the two figures the API
// does not serve. The dispatcher does not import the dashboard (nor the client it reads
// with); cmd/dispatcher joins them.
type DashboardSource struct {
	// API serves the API's routes in this process, without the bearer token (the
	// dashboard has its own login) and outside the request metrics.
	API http.Handler
	// Count counts the instances that match a filter; nil when the store cannot.
	Count func(ctx context.Context, f history.ListFilter) (int64, error)
	// Depths reports the depth of each of the hub's queues; nil when the broker cannot.
	Depths func(ctx context.Context) ([]queues.QueueDepth, error)
	// Config is the dispatcher's, with its defaults (Token, JaegerUI, OpTimeout, Logger).
	Config Config
}

// dashboard builds the handler under DashboardPrefix over api, the API's routes. It costs
// nothing until someone opens a page.
func (d *Dispatcher) dashboard(api http.Handler) http.Handler {
	src := DashboardSource{API: api, Config: d.cfg}
	if s, ok := d.store.(interface {
		CountInstances(context.Context, history.ListFilter) (int64, error)
	}); ok {
		src.Count = s.CountInstances
	}
	if b, ok := d.broker.(interface {
		Depths(context.Context) ([]queues.QueueDepth, error)
	}); ok {
		src.Depths = b.Depths
	}
	return d.cfg.Dashboard(src)
}
