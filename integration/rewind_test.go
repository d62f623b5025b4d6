package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/scrape"
	"github.com/warrenhq/warren/internal/testenv"
)

// `client rewind ID` on a fleet: a Rewindable instance, and a parent whose Rewindable
// child failed, fail on FailFirstAttempt's first attempt; rewound, each runs it again as
// attempt 2 and completes, and no activity that had completed runs again (the workers'
// activity counters). A running instance's rewind is refused.
func TestRewindOnAFleet(t *testing.T) {
	f := fleettest.Start(t, fleettest.Options{Workers: 2, Endpoints: true})
	ctx := context.Background()
	runs := func(activity string) float64 {
		total := 0.0
		for _, w := range f.Workers() {
			s, err := scrape.Fetch(ctx, w.EndpointsURL+"/metrics", "")
			if err != nil {
				t.Fatalf("scraping %s: %v", w.EndpointsURL, err)
			}
			total += s.Value("warren_worker_activities_total", "activity", activity)
		}
		return total
	}
	wantRuns := func(when string, want map[string]float64) {
		t.Helper()
		for activity, n := range want {
			if got := runs(activity); got != n {
				t.Errorf("%s: %s ran %v times, want %v", when, activity, got, n)
			}
		}
	}
	read := func(id string) api.StatusWithHistory {
		var sh api.StatusWithHistory
		r := f.ClientRead("history", id, "--json")
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &sh) != nil {
			return api.StatusWithHistory{}
		}
		return sh
	}

	single := testenv.UniqueName("rewind")
	parent := testenv.UniqueName("rewind-parent")
	f.MustClient("start", "Rewindable", "--input", `"Ann"`, "--id", single)
	f.MustClient("start", "ParentOfRewindable", "--input", `"Bo"`, "--id", parent)
	for _, id := range []string{single, parent} {
		if st, code := waitDone(t, f, id, "1m"); st.Status != history.StatusFailed {
			t.Fatalf("%s ended %s (exit %d), want Failed", id, st.Status, code)
		}
	}
	child := parent + ":2"
	fleettest.WaitUntil(t, time.Minute, "the child to show Failed", func() bool {
		st, _ := status(t, f, child)
		return st.Status == history.StatusFailed
	})
	wantRuns("before the rewinds", map[string]float64{"Prepare": 3, "FailFirstAttempt": 2, "Finish": 0})
	failedExec := executionOf(t, f, single)

	for _, id := range []string{single, parent} {
		if out := f.MustClient("rewind", id, "--reason", "the bug is fixed"); !strings.Contains(out, "Rewinding "+id) {
			t.Fatalf("rewind printed %q", out)
		}
	}
	want := map[string]string{
		single: `"prepared Ann, tried on attempt 2, finished"`,
		parent: `"prepared Bo / prepared Bo's child, tried on attempt 2, finished"`,
		child:  `"prepared Bo's child, tried on attempt 2, finished"`,
	}
	for id, output := range want {
		var sh api.StatusWithHistory
		fleettest.WaitUntil(t, time.Minute, id+" to complete after its rewind", func() bool {
			sh = read(id)
			return sh.Status.Status == history.StatusCompleted
		})
		if got := compact(t, sh.Output); got != output {
			t.Errorf("%s: output %s, want %s", id, got, output)
		}
		start := sh.History[slicesIndexKind(sh.History, history.ExecutionStarted)]
		if len(start.RewoundFrom) != 1 || count(sh.History, history.ExecutionRewound, "") != 1 ||
			count(sh.History, history.TaskFailed, "") != 0 || count(sh.History, history.ExecutionFailed, "") != 0 {
			t.Errorf("%s: the rewound history (from %v) holds %d rewinds, %d task failures, %d execution failures",
				id, start.RewoundFrom, count(sh.History, history.ExecutionRewound, ""), count(sh.History, history.TaskFailed, ""),
				count(sh.History, history.ExecutionFailed, ""))
		}
		if id == single && start.RewoundFrom[0] != failedExec {
			t.Errorf("rewound from %v, want %s", start.RewoundFrom, failedExec)
		}
	}
	wantRuns("after the rewinds", map[string]float64{"Prepare": 3, "FailFirstAttempt": 4, "Finish": 2})

	live := testenv.UniqueName("live")
	f.MustClient("start", "WaitForRelease", "--id", live)
	r := f.Client("rewind", live)
	if r.Code != 1 || !strings.Contains(r.Stderr, "only a Failed instance can be rewound") {
		t.Fatalf("rewind of a running instance: exit %d, stderr %s", r.Code, r.Stderr)
	}
	r = f.Client("rewind", single)
	if r.Code != 1 || !strings.Contains(r.Stderr, "is Completed; only a Failed instance can be rewound") {
		t.Fatalf("rewind of a completed instance: exit %d, stderr %s", r.Code, r.Stderr)
	}
}

// slicesIndexKind is the index of the first event of kind in evs (0 when there is none).
func slicesIndexKind(evs []history.Event, kind history.Kind) int {
	for i, ev := range evs {
		if ev.Kind == kind {
			return i
		}
	}
	return 0
}
