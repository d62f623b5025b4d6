// Package api holds the JSON bodies of the dispatcher's HTTP API ([Status], [StartRequest],
// [ListResponse], …) and its error body and codes ([ErrorBody], [CodeNotFound], …). The
// dispatcher ([github.com/warrenhq/warren/dispatcher]) encodes them and the Go client
// ([github.com/warrenhq/warren/client]) decodes them; both import this package, so neither
// depends on the other.
//
//	var st api.Status
//	err := json.NewDecoder(resp.Body).Decode(&st) // GET /v1/instances/{id}
package api

import (
	"encoding/json"
	"time"

	"github.com/warrenhq/warren/history"
)

// Status is what a reader sees of an orchestration instance. Its JSON object has exactly
// these fields; output, failure and customStatus are null when there is nothing to show,
// parentInstanceId and traceId are "" when there is none.
type Status struct {
	InstanceID       string           `json:"instanceId"`
	Name             string           `json:"name"`
	Status           history.Status   `json:"status"`
	Output           json.RawMessage  `json:"output"`
	Failure          *history.Failure `json:"failure"`
	CustomStatus     json.RawMessage  `json:"customStatus"`
	CreatedAt        time.Time        `json:"createdAt"`
	LastUpdatedAt    time.Time        `json:"lastUpdatedAt"`
	ParentInstanceID string           `json:"parentInstanceId"`
	TraceID          string           `json:"traceId"`
}

// StatusOf is the Status of a stored instance.
func StatusOf(inst *history.Instance) Status {
	return Status{
		InstanceID:       inst.InstanceID,
		Name:             inst.Name,
		Status:           inst.Status,
		Output:           nullIfEmpty(inst.Output),
		Failure:          inst.Failure,
		CustomStatus:     nullIfEmpty(inst.CustomStatus),
		CreatedAt:        inst.CreatedAt,
		LastUpdatedAt:    inst.LastUpdatedAt,
		ParentInstanceID: inst.ParentInstanceID,
		TraceID:          inst.TraceID,
	}
}

func nullIfEmpty(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return nil
	}
	return r
}

// StatusWithHistory is the answer to GET /v1/instances/{id}?history=true: the status and the
// events of the instance's current execution, in order.
type StatusWithHistory struct {
	Status
	History []history.Event `json:"history"`
}

// ListResponse is the answer to GET /v1/instances: one page, oldest first, and the cursor
// of the next page ("" on the last).
type ListResponse struct {
	Instances  []Status `json:"instances"`
	NextCursor string   `json:"nextCursor"`
}

// PurgeResponse is the answer to DELETE /v1/instances: how many ended instances the
// request purged, with their histories.
type PurgeResponse struct {
	Purged int `json:"purged"`
}
