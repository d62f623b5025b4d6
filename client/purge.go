package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

// PurgeFilter selects the ended instances PurgeInstances deletes. It must name at least one
// status or a created bound: the dispatcher refuses a purge of everything.
type PurgeFilter struct {
	// Statuses are among Completed, Failed and Terminated; none means all three.
	Statuses    []history.Status
	Name        string    // only instances of this orchestrator
	CreatedFrom time.Time // inclusive
	CreatedTo   time.Time // exclusive: "older than" is CreatedTo = now less the age
}

// PurgeInstances deletes the ended instances that match f, with their histories, and
// returns how many. The dispatcher goes by the instance documents, which may lag by about
// a second: an instance that has only just ended may be left for the next purge.
func (c *Client) PurgeInstances(ctx context.Context, f PurgeFilter) (int, error) {
	q := url.Values{}
	for _, s := range f.Statuses {
		q.Add("status", string(s))
	}
	setIf(q, "name", f.Name)
	if !f.CreatedFrom.IsZero() {
		q.Set("createdFrom", f.CreatedFrom.Format(time.RFC3339Nano))
	}
	if !f.CreatedTo.IsZero() {
		q.Set("createdTo", f.CreatedTo.Format(time.RFC3339Nano))
	}
	var pr api.PurgeResponse
	if err := c.do(ctx, http.MethodDelete, "/v1/instances", q, nil, &pr); err != nil {
		return 0, err
	}
	return pr.Purged, nil
}

// PurgeRecursive deletes an ended instance and its sub-orchestrations at any depth, with
// their histories, and returns how many instances it deleted. When any of them has not
// ended the dispatcher refuses with a conflict naming it, and deletes nothing.
func (c *Client) PurgeRecursive(ctx context.Context, id string) (int, error) {
	var pr api.PurgeResponse
	if err := c.do(ctx, http.MethodDelete, instancePath(id), url.Values{"recursive": {"true"}}, nil, &pr); err != nil {
		return 0, err
	}
	return pr.Purged, nil
}
