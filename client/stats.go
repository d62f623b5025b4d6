package client

import (
	"context"
	"net/http"

	"github.com/warrenhq/warren/api"
)

// Stats reads the dispatcher's own figures.
func (c *Client) Stats(ctx context.Context) (*api.Stats, error) {
	var s api.Stats
	if err := c.do(ctx, http.MethodGet, "/v1/stats", nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
