package client

import (
	"context"
	"net/http"
	"time"

	"github.com/warrenhq/warren/history"
)

// Stats is the answer to GET /v1/stats: what a benchmark reads of the dispatcher that
// answers. StoreOps is absent when the dispatcher's store does not count its commands.
type Stats struct {
	Hub       string            `json:"hub"`
	PID       int               `json:"pid"`
	StartedAt time.Time         `json:"startedAt"` // the process's start
	StoreOps  *history.OpCounts `json:"storeOps,omitempty"`
}

// Stats reads the dispatcher's own figures.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var s Stats
	if err := c.do(ctx, http.MethodGet, "/v1/stats", nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
