package integration

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
)

// status reads an instance's status through `client status --json`.
func status(t *testing.T, f *fleettest.Fleet, id string) (api.Status, bool) {
	t.Helper()
	r := f.Client("status", id, "--json")
	if r.Code != 0 {
		return api.Status{}, false
	}
	var st api.Status
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("client status --json printed %q: %v", r.Stdout, err)
	}
	return st, true
}

// waitDone waits through `client wait` and returns the final status and the exit code.
func waitDone(t *testing.T, f *fleettest.Fleet, id, timeout string) (api.Status, int) {
	t.Helper()
	r := f.Client("wait", id, "--timeout", timeout, "--json")
	var st api.Status
	if r.Code == 0 || r.Code == 3 {
		if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
			t.Fatalf("client wait --json printed %q: %v", r.Stdout, err)
		}
	}
	return st, r.Code
}

// events reads an instance's history through `client history --json`.
func events(t *testing.T, f *fleettest.Fleet, id string) []history.Event {
	t.Helper()
	out := f.MustClient("history", id, "--json")
	var withHist api.StatusWithHistory
	if err := json.Unmarshal([]byte(out), &withHist); err != nil {
		t.Fatalf("client history --json printed %q: %v", out, err)
	}
	return withHist.History
}

// count counts the events of a kind (and, when name is not empty, of that name).
func count(evs []history.Event, kind history.Kind, name string) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind && (name == "" || e.Name == name) {
			n++
		}
	}
	return n
}

// list reads instances through `client list --json`.
func list(t *testing.T, f *fleettest.Fleet, args ...string) []api.Status {
	t.Helper()
	out := f.MustClient(append([]string{"list", "--json"}, args...)...)
	var sts []api.Status
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("client list --json printed %q: %v", out, err)
	}
	return sts
}

// compact is raw JSON without insignificant spaces, for comparing outputs.
func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("output %q is not JSON: %v", raw, err)
	}
	return b.String()
}
