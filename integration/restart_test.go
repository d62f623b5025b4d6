package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
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
	// The status and the history of one read: the document names the execution whose
	// history comes with it.
	var sh api.StatusWithHistory
	fleettest.WaitUntil(t, time.Minute, "the new execution to complete", func() bool {
		r := f.ClientRead("history", id, "--json")
		sh = api.StatusWithHistory{}
		return r.Code == 0 && json.Unmarshal([]byte(r.Stdout), &sh) == nil &&
			sh.Status.Status == history.StatusCompleted && startedExecution(sh.History) != first
	})
	if got := compact(t, sh.Output); got != `"Hello, Ann! Hello, Ann! Hello, Ann! Hello, Ann! Hello, Ann!"` {
		t.Fatalf("the restarted execution's output: %s", got)
	}
	if n := count(sh.History, history.TaskScheduled, "SayHello"); n != 5 {
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
	return startedExecution(events(t, f, id))
}

// startedExecution is the execution id of a history's ExecutionStarted.
func startedExecution(evs []history.Event) string {
	for _, ev := range evs {
		if ev.Kind == history.ExecutionStarted {
			return ev.ExecutionID
		}
	}
	return ""
}
