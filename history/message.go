package history

import "encoding/json"

// MessageKindActivity is the type of a work-item message (an ActivityRequest). Every other
// message is a control message whose type is the Kind of the event it carries.
const MessageKindActivity = "ActivityRequest"

// MessageKindEnded is the type of the announcement a worker makes when it has written the
// document of an instance whose execution ended (Completed, Failed or Terminated).
const MessageKindEnded = "InstanceEnded"

// ControlMessage delivers one event to an instance through its partition's control queue.
type ControlMessage struct {
	InstanceID string `json:"instanceId"`
	// ExecutionID, when set, is the execution the event is for; an event for an older
	// execution (a late timer after continue-as-new) is dropped.
	ExecutionID string `json:"executionId,omitempty"`
	Event       Event  `json:"event"`
}

// ActivityRequest asks any worker to run one attempt of an activity.
type ActivityRequest struct {
	InstanceID        string          `json:"instanceId"`
	ExecutionID       string          `json:"executionId"`
	OrchestrationName string          `json:"orchestrationName"`
	TaskID            int64           `json:"taskId"`
	Name              string          `json:"name"`
	Input             json.RawMessage `json:"input,omitempty"`
	Attempt           int             `json:"attempt"`
	Trace             *TraceContext   `json:"trace,omitempty"`
}
