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

// One fleet serves the fault scenarios; each runs on its own instances.
func TestFaultScenarios(t *testing.T) {
	f := fleettest.Start(t, fleettest.Options{Workers: 2})

	t.Run("activity fails twice then succeeds under a retry policy", func(t *testing.T) {
		id := testenv.UniqueName("flaky")
		f.MustClient("start", "FlakyPipeline", "--id", id)
		st, code := waitDone(t, f, id, "1m")
		if code != 0 || st.Status != history.StatusCompleted {
			t.Fatalf("ended %s (exit %d): %v", st.Status, code, st.Failure)
		}
		if got := compact(t, st.Output); got != `"succeeded on attempt 3"` {
			t.Fatalf("output = %s", got)
		}
		evs := events(t, f, id)
		if n := count(evs, history.TaskFailed, ""); n != 2 {
			t.Fatalf("%d TaskFailed, want 2", n)
		}
		if n := count(evs, history.TaskCompleted, ""); n != 1 {
			t.Fatalf("%d TaskCompleted, want 1", n)
		}
		if n := count(evs, history.TimerFired, ""); n != 2 {
			t.Fatalf("%d retry timers fired, want 2", n)
		}
	})

	t.Run("the parent sees its child's failure", func(t *testing.T) {
		id := testenv.UniqueName("parent")
		f.MustClient("start", "ParentOfFailingChild", "--id", id)
		st, code := waitDone(t, f, id, "1m")
		if code != 0 || st.Status != history.StatusCompleted {
			t.Fatalf("ended %s (exit %d): %v", st.Status, code, st.Failure)
		}
		var out string
		if err := json.Unmarshal(st.Output, &out); err != nil || !strings.Contains(out, "device exploded") {
			t.Fatalf("parent output %s does not carry the child's error", st.Output)
		}
		// The child's document is a read model that may lag its history by up to a second.
		var children []api.Status
		fleettest.WaitUntil(t, 30*time.Second, "the child's document to show its failure", func() bool {
			children = list(t, f, "--parent", id)
			return len(children) == 1 && children[0].Status.Terminal()
		})
		if children[0].Status != history.StatusFailed ||
			children[0].Failure == nil || !strings.Contains(children[0].Failure.Message, "device exploded") {
			t.Fatalf("children = %+v", children)
		}
	})

	t.Run("a durable timer fires, not early", func(t *testing.T) {
		id := testenv.UniqueName("sleep")
		f.MustClient("start", "Sleeper", "--id", id, "--input", `{"ms": 1500}`)
		st, code := waitDone(t, f, id, "1m")
		if code != 0 || st.Status != history.StatusCompleted {
			t.Fatalf("ended %s (exit %d): %v", st.Status, code, st.Failure)
		}
		var out struct{ SleptMs int64 }
		if err := json.Unmarshal(st.Output, &out); err != nil || out.SleptMs < 1500 {
			t.Fatalf("output %s: slept less than 1500 ms", st.Output)
		}
		evs := events(t, f, id)
		var created, fired time.Time
		for _, e := range evs {
			switch e.Kind {
			case history.TimerCreated:
				created = e.Timestamp
			case history.TimerFired:
				fired = e.Timestamp
			}
		}
		t.Logf("timer created %v fired %v (%v)", created, fired, fired.Sub(created))
		if created.IsZero() || fired.Sub(created) < 1500*time.Millisecond {
			t.Fatalf("timer created %v fired %v", created, fired)
		}
	})

	t.Run("terminate with children, then purge", func(t *testing.T) {
		id := testenv.UniqueName("waiting")
		f.MustClient("start", "WaitingParent", "--id", id, "--input", `{"children": 3}`)
		fleettest.WaitUntil(t, time.Minute, "three running children", func() bool {
			n := 0
			for _, c := range list(t, f, "--parent", id) {
				if c.Status == history.StatusRunning {
					n++
				}
			}
			return n == 3
		})
		f.MustClient("terminate", id, "--reason", "bad batch", "--recursive")
		st, code := waitDone(t, f, id, "1m")
		if code != 3 || st.Status != history.StatusTerminated {
			t.Fatalf("parent ended %s with exit %d, want Terminated and exit 3", st.Status, code)
		}
		fleettest.WaitUntil(t, time.Minute, "children terminated", func() bool {
			cs := list(t, f, "--parent", id)
			for _, c := range cs {
				if c.Status != history.StatusTerminated {
					return false
				}
			}
			return len(cs) == 3
		})
		f.MustClient("purge", id)
		if r := f.Client("status", id); r.Code == 0 {
			t.Fatalf("status after purge exited 0: %s", r.Stdout)
		}
		// A running instance cannot be purged.
		live := testenv.UniqueName("live")
		f.MustClient("start", "WaitingParent", "--id", live, "--input", `{"children": 0}`)
		fleettest.WaitUntil(t, time.Minute, "instance running", func() bool {
			st, ok := status(t, f, live)
			return ok && st.Status == history.StatusRunning
		})
		if r := f.Client("purge", live); r.Code == 0 {
			t.Fatalf("purge of a running instance succeeded")
		}
		f.MustClient("terminate", live)
	})

	t.Run("suspend and resume", func(t *testing.T) {
		id := testenv.UniqueName("susp")
		f.MustClient("start", "WaitingParent", "--id", id, "--input", `{"children": 0}`)
		fleettest.WaitUntil(t, time.Minute, "running", func() bool {
			st, ok := status(t, f, id)
			return ok && st.Status == history.StatusRunning
		})
		f.MustClient("suspend", id)
		fleettest.WaitUntil(t, time.Minute, "suspended", func() bool {
			st, ok := status(t, f, id)
			return ok && st.Status == history.StatusSuspended
		})
		f.MustClient("resume", id)
		fleettest.WaitUntil(t, time.Minute, "running again", func() bool {
			st, ok := status(t, f, id)
			return ok && st.Status == history.StatusRunning
		})
		f.MustClient("raise", id, "Release", "--data", `"go"`)
		st, code := waitDone(t, f, id, "1m")
		if code != 0 || st.Status != history.StatusCompleted {
			t.Fatalf("ended %s (exit %d)", st.Status, code)
		}
	})
}
