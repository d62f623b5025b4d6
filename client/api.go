package client

import (
	"encoding/json"
	"time"

	"github.com/warrenhq/warren/history"
)

// The types below are the JSON bodies of the dispatcher's HTTP API; the dispatcher encodes
// them and this client decodes them, so they are defined once, here.

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

// StartRequest is the body of POST /v1/instances.
type StartRequest struct {
	// Name is the orchestrator to run; a live worker must have registered it.
	Name string `json:"name"`
	// InstanceID is optional; the dispatcher picks a random one when it is empty.
	InstanceID string `json:"instanceId,omitempty"`
	// Input is the orchestrator's input, any JSON value.
	Input json.RawMessage `json:"input,omitempty"`
}

// TerminateRequest is the body of POST /v1/instances/{id}/terminate (optional).
type TerminateRequest struct {
	Reason string `json:"reason,omitempty"`
	// Recursive terminates the instance's running sub-orchestrations too.
	Recursive bool `json:"recursive,omitempty"`
}

// ReasonRequest is the body of POST /v1/instances/{id}/suspend and .../resume (optional).
type ReasonRequest struct {
	Reason string `json:"reason,omitempty"`
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

// Worker is one live worker and the partitions it owns by rendezvous hashing.
type Worker struct {
	WorkerID      string    `json:"workerId"`
	Host          string    `json:"host"`
	Orchestrators []string  `json:"orchestrators"`
	Activities    []string  `json:"activities"`
	HeartbeatAt   time.Time `json:"heartbeatAt"`
	StartedAt     time.Time `json:"startedAt"`
	Partitions    []int     `json:"partitions"`
	// ActivityConcurrency is how many activities the worker runs at once (0: not said).
	ActivityConcurrency int `json:"activityConcurrency,omitempty"`
	// StoreOps are the commands the worker's store has sent since it started, as of its
	// last heartbeat, when its store counts them.
	StoreOps *history.OpCounts `json:"storeOps,omitempty"`
}

// WorkersResponse is the answer to GET /v1/workers.
type WorkersResponse struct {
	Partitions int      `json:"partitions"`
	Workers    []Worker `json:"workers"`
}

// DeadLetter is a message given up on, as GET /v1/deadletters lists it: why, where from,
// when, and the start of its body (text; bytes that are not UTF-8 show as U+FFFD).
type DeadLetter struct {
	ID          string    `json:"id"`
	MessageID   string    `json:"messageId"`
	Kind        string    `json:"kind"`
	InstanceID  string    `json:"instanceId"`
	Reason      string    `json:"reason"`
	SourceQueue string    `json:"sourceQueue"`
	PublishedAt time.Time `json:"publishedAt"`
	DeadAt      time.Time `json:"deadAt"`
	BodyBytes   int       `json:"bodyBytes"`
	BodyExcerpt string    `json:"bodyExcerpt"`
}

// DeadLettersResponse is the answer to GET /v1/deadletters: one page, oldest first.
type DeadLettersResponse struct {
	DeadLetters []DeadLetter `json:"deadLetters"`
	NextCursor  string       `json:"nextCursor"`
}

// ErrorBody is the JSON body of every 4xx and 5xx answer.
type ErrorBody struct {
	// Error says what went wrong and, where it can, what to do.
	Error string `json:"error"`
	// Code is one of the Code* constants, for programs.
	Code string `json:"code"`
	// Known lists the orchestrators live workers have registered (CodeUnknownOrchestrator).
	Known []string `json:"known,omitempty"`
	// Status is the instance's status when a wait timed out (CodeTimeout).
	Status *Status `json:"status,omitempty"`
}

// Error codes of ErrorBody.
const (
	CodeBadJSON             = "bad_json"
	CodeInvalidArgument     = "invalid_argument"
	CodeInvalidInstanceID   = "invalid_instance_id"
	CodePayloadTooLarge     = "payload_too_large"
	CodeUnknownOrchestrator = "unknown_orchestrator"
	CodeNotFound            = "not_found"
	CodeConflict            = "conflict"
	CodeTimeout             = "timeout"
	CodeUnauthorized        = "unauthorized"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeUnavailable         = "unavailable"
	CodeInternal            = "internal"
)
