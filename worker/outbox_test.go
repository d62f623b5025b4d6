package worker

import (
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
)

// The work item carries the call's WithTimeout and WithHeartbeatTimeout to the worker.
func TestActivityRequestCarriesItsTimeout(t *testing.T) {
	ec := episodeContext{instanceID: "i", executionID: "e", name: "O"}
	m, err := actionMessage(ec, durable.Action{Kind: durable.ScheduleActivity, TaskID: 3, Name: "Slow", Attempt: 1,
		Timeout: 90 * time.Second, HeartbeatTimeout: 5 * time.Second}, func() string { return "0123456789abcdef" })
	if err != nil {
		t.Fatal(err)
	}
	req, err := decodeActivity("", m.Body, 1<<20)
	if err != nil || req.Timeout != 90*time.Second || req.HeartbeatTimeout != 5*time.Second || req.Name != "Slow" || req.TaskID != 3 {
		t.Fatalf("request %+v, %v: want Slow, task 3, timeout 90s, heartbeat timeout 5s", req, err)
	}
}
