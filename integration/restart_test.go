package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
)

// `client restart ID` on a fleet: an ended instance runs again with the same input as a
// new execution under its id; a running one is refused.
func TestRestartOnAFleet(t *testing.T) {
	f := fleettest.Start(t, fleettest.Options{Workers: 2})
	id := testenv.UniqueName("again")
	f.MustClient("start", "HelloSequence", "--input", `"Ann"`, "--id", id, "--wait")
	first := executionOf(t, f, id)

	if out := f.MustClient("restart", id); !strings.Contains(out, "Restarting "+id) {
		t.Fatalf("restart printed %q", out)
	}
	fleettest.WaitUntil(t, time.Minute, "the new execution to complete", func() bool {
		st, ok := status(t, f, id)
		return ok && st.Status == history.StatusCompleted && executionOf(t, f, id) != first
	})
	st, _ := status(t, f, id)
	if got := compact(t, st.Output); got != `"Hello, Ann! Hello, Ann! Hello, Ann! Hello, Ann! Hello, Ann!"` {
		t.Fatalf("the restarted execution's output: %s", got)
	}
	if n := count(events(t, f, id), history.TaskScheduled, "SayHello"); n != 5 {
		t.Fatalf("the new execution's history has %d SayHello calls, want 5 (its own)", n)
	}

	live := testenv.UniqueName("live")
	f.MustClient("start", "ProvisionNewDevices", "--input", `{"devices": 1}`, "--id", live)
	r := f.Client("restart", live)
	if r.Code != 1 || !strings.Contains(r.Stderr, "can be restarted (terminate it first)") {
		t.Fatalf("restart of a running instance: exit %d, stderr %s", r.Code, r.Stderr)
	}
}

// executionOf is the execution id of the instance's current history.
func executionOf(t *testing.T, f *fleettest.Fleet, id string) string {
	t.Helper()
	for _, ev := range events(t, f, id) {
		if ev.Kind == history.ExecutionStarted {
			return ev.ExecutionID
		}
	}
	return ""
}
