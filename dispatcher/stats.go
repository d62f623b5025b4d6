package dispatcher

import (
	"net/http"
	"os"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

// processStart is when this process started, near enough: when the package initialized.
var processStart = time.Now()

// stats answers GET /v1/stats with what `client bench` reads of this process: its pid and
// start (to find it in /proc), its hub, and its store's command counts when the store
// counts them (history/mongo does).
func (d *Dispatcher) stats(w http.ResponseWriter, _ *http.Request) error {
	s := api.Stats{Hub: d.cfg.Hub, PID: os.Getpid(), StartedAt: processStart}
	if c, ok := d.store.(interface{ Ops() history.OpCounts }); ok {
		ops := c.Ops()
		s.StoreOps = &ops
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}
