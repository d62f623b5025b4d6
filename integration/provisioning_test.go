package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
)

// The seed scenario end to end: three worker processes, 50 devices, each acknowledged by
// `client raise`.
func TestSeedScenarioFiftyDevicesThreeWorkers(t *testing.T) {
	f := fleettest.Start(t, fleettest.Options{Workers: 3})
	id := testenv.UniqueName("batch")
	const devices = 50
	f.MustClient("start", "ProvisionNewDevices", "--input", fmt.Sprintf(`{"devices": %d}`, devices), "--id", id, "--json")

	children := make([]string, devices)
	for i := range children {
		children[i] = fmt.Sprintf("%s:device-%04d", id, i+1)
	}
	fleettest.WaitUntil(t, 2*time.Minute, "all children started", func() bool {
		return len(list(t, f, "--parent", id)) == devices
	})
	for _, c := range children {
		f.MustClient("raise", c, "DownloadCompletedAck", "--data", "true")
	}
	st, code := waitDone(t, f, id, "3m")
	if code != 0 || st.Status != history.StatusCompleted {
		t.Fatalf("parent ended %s (exit %d), failure %v", st.Status, code, st.Failure)
	}
	if got := compact(t, st.Output); got != `{"provisioned":50}` {
		t.Fatalf("output = %s, want {\"provisioned\":50}", got)
	}
	for _, c := range children {
		cs, ok := status(t, f, c)
		if !ok || cs.Status != history.StatusCompleted || compact(t, cs.Output) != "true" {
			t.Fatalf("child %s: %+v", c, cs)
		}
		evs := events(t, f, c)
		for _, want := range []struct {
			kind history.Kind
			name string
		}{
			{history.TaskScheduled, "CreateInstallationPackage"},
			{history.TaskScheduled, "SendPackageUrlToDevice"},
			{history.EventRaised, "DownloadCompletedAck"},
		} {
			if n := count(evs, want.kind, want.name); n != 1 {
				t.Fatalf("child %s history has %d × %s %s, want 1", c, n, want.kind, want.name)
			}
		}
		if n := count(evs, history.TaskCompleted, ""); n != 2 {
			t.Fatalf("child %s history has %d TaskCompleted, want 2", c, n)
		}
	}
}
