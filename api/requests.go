package api

import "encoding/json"

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
