package durabletest_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
)

// recordEcho runs Echo in the harness and writes its history to dir as `client history
// --json` would (echo.json) and as a bare array (echo-events.json).
func recordEcho(t *testing.T, dir string) []history.Event {
	t.Helper()
	h := durabletest.New(register(t))
	if err := h.Start("Echo", "e-1", "hi"); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	evs := h.History("e-1")
	withStatus, err := json.Marshal(map[string]any{"instanceId": "e-1", "name": "Echo", "status": h.Status("e-1"), "history": evs})
	if err != nil {
		t.Fatal(err)
	}
	bare, err := history.EncodeEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"echo.json": withStatus, "echo-events.json": bare} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return evs
}

func TestReplayFileAndDir(t *testing.T) {
	dir := t.TempDir()
	evs := recordEcho(t, dir)
	r := register(t)
	if err := durabletest.Replay(r, evs); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"echo.json", "echo-events.json"} {
		if err := durabletest.ReplayFile(r, filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	durabletest.ReplayDir(t, r, dir)
}

func TestReplayFileReportsChangedCode(t *testing.T) {
	dir := t.TempDir()
	recordEcho(t, dir)
	r := durable.NewRegistry()
	if err := durable.AddOrchestrator(r, "Echo", func(ctx *durable.OrchestrationContext, s string) (string, error) {
		var out string
		err := ctx.CallActivity("Lower", s).Await(&out)
		return out, err
	}); err != nil {
		t.Fatal(err)
	}
	err := durabletest.ReplayFile(r, filepath.Join(dir, "echo.json"))
	var nd *durable.NonDeterminismError
	if !errors.As(err, &nd) || nd.Recorded != `activity "Upper"` || nd.Requested != `activity "Lower"` || nd.Event != 2 {
		t.Fatalf("got %v (%+v), want the activities at event 2 apart", err, nd)
	}
	if !strings.HasPrefix(err.Error(), "echo.json: ") {
		t.Fatalf("the error does not name the file: %v", err)
	}
}

func TestReplayFileRefusesWhatIsNotAHistory(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"garbage.json":    "not json",
		"status.json":     `{"instanceId": "x", "status": "Completed"}`,
		"unknown.json":    `[{"v": 1, "kind": "Teleported", "ts": "2026-01-01T00:00:00Z"}]`,
		"newer.json":      `{"history": [{"v": 99, "kind": "ExecutionStarted", "ts": "2026-01-01T00:00:00Z"}]}`,
		"no-start.json":   `[{"v": 1, "kind": "TaskScheduled", "ts": "2026-01-01T00:00:00Z", "taskId": 1, "name": "A"}]`,
		"unreadable.json": "",
	}
	wants := map[string]string{
		"garbage.json": "not a recorded history", "status.json": `no "history" array`,
		"unknown.json": `unknown event kind "Teleported"`, "newer.json": "newer version",
		"no-start.json": "must begin with ExecutionStarted", "unreadable.json": "not a recorded history",
		"missing.json": "no such file",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := register(t)
	for name, want := range wants {
		err := durabletest.ReplayFile(r, filepath.Join(dir, name))
		var nd *durable.NonDeterminismError
		if err == nil || errors.As(err, &nd) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, want)
		}
	}
}
