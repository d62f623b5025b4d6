package durabletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/history"
)

// replayInstanceID is the instance id Replay runs a history under (a recorded file names
// its own).
const replayInstanceID = "replay"

// Replay replays events, the history of one execution (Harness.History, say), against the
// orchestrators registered in reg. It returns nil when today's code makes the calls the
// history recorded and ends where it ended, a *durable.NonDeterminismError naming both
// sides and the event index when it does not, and another error for a history it cannot
// run. See durable.Executor.Replay.
func Replay(reg *durable.Registry, events []history.Event) error {
	return durable.NewExecutor(reg).Replay(replayInstanceID, events)
}

// ReplayFile replays the history in the file at path, as `client history ID --json`
// writes it (the instance's status with a "history" array) or a bare JSON array of
// events, like Replay.
func ReplayFile(reg *durable.Registry, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("durabletest: %w", err)
	}
	id, events, err := decodeHistoryFile(data)
	if err != nil {
		return fmt.Errorf("durabletest: %s: %w", path, err)
	}
	if err := durable.NewExecutor(reg).Replay(id, events); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

// decodeHistoryFile reads a recorded history: an object with "instanceId" and "history",
// or an array of events.
func decodeHistoryFile(data []byte) (string, []history.Event, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		events, err := history.DecodeEvents(data)
		return replayInstanceID, events, err
	}
	var rec struct {
		InstanceID string          `json:"instanceId"`
		History    json.RawMessage `json:"history"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return "", nil, fmt.Errorf("not a recorded history (want the output of `client history ID --json`): %w", err)
	}
	if len(rec.History) == 0 {
		return "", nil, fmt.Errorf("no \"history\" array (want the output of `client history ID --json`)")
	}
	events, err := history.DecodeEvents(rec.History)
	if rec.InstanceID == "" {
		rec.InstanceID = replayInstanceID
	}
	return rec.InstanceID, events, err
}

// ReplayDir replays every .json file in dir with ReplayFile, each as a subtest of t named
// after the file, for CI: commit the histories recorded from a running fleet and keep the
// test. A folder without any .json file fails the test.
func ReplayDir(t *testing.T, reg *durable.Registry, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatalf("durabletest: %v", err)
	}
	if len(files) == 0 {
		t.Fatalf("durabletest: no recorded history (*.json) in %s", dir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := ReplayFile(reg, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
