package api

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
