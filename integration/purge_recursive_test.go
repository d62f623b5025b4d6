package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
	"github.com/warrenhq/warren/internal/testenv"
)

// `client purge ID --recursive` on a fleet: refused, deleting nothing, while a
// sub-orchestration still runs; once every device has ended, the parent and all its
// devices go, and an unrelated instance stays.
func TestPurgeRecursiveOnAFleet(t *testing.T) {
	f := fleettest.Start(t, fleettest.Options{Workers: 2})
	id := testenv.UniqueName("tree")
	other := testenv.UniqueName("other")
	const devices = 3
	f.MustClient("start", "ProvisionNewDevices", "--input", fmt.Sprintf(`{"devices": %d}`, devices), "--id", id)
	f.MustClient("start", "HelloSequence", "--input", `"Ann"`, "--id", other, "--wait")
	fleettest.WaitUntil(t, time.Minute, "every device started", func() bool {
		return len(list(t, f, "--parent", id)) == devices
	})
	// The parent ends; its devices go on waiting for their acknowledgement.
	f.MustClient("terminate", id, "--reason", "test")
	if st, code := waitDone(t, f, id, "1m"); st.Status != history.StatusTerminated {
		t.Fatalf("parent ended %s (exit %d)", st.Status, code)
	}
	r := f.Client("purge", id, "--recursive")
	if r.Code != 1 || !strings.Contains(r.Stderr, "(a sub-orchestration of") || !strings.Contains(r.Stderr, "is Running") ||
		!strings.Contains(r.Stderr, "nothing was purged") {
		t.Fatalf("purge of a tree with running devices: exit %d, stderr %s", r.Code, r.Stderr)
	}
	if _, ok := status(t, f, id); !ok {
		t.Fatal("a refused recursive purge deleted the parent")
	}
	if n := len(list(t, f, "--parent", id)); n != devices {
		t.Fatalf("a refused recursive purge left %d of %d devices", n, devices)
	}

	for i := 1; i <= devices; i++ {
		f.MustClient("raise", fmt.Sprintf("%s:device-%04d", id, i), "DownloadCompletedAck", "--data", "true")
	}
	for i := 1; i <= devices; i++ {
		if st, code := waitDone(t, f, fmt.Sprintf("%s:device-%04d", id, i), "1m"); st.Status != history.StatusCompleted {
			t.Fatalf("device %d ended %s (exit %d)", i, st.Status, code)
		}
	}
	out := f.MustClient("purge", id, "--recursive", "--json")
	if compact(t, []byte(out)) != fmt.Sprintf(`{"purged":%d}`, devices+1) {
		t.Fatalf("purge printed %s, want %d purged", out, devices+1)
	}
	if _, ok := status(t, f, id); ok {
		t.Fatal("the parent is still there")
	}
	for i := 1; i <= devices; i++ {
		if _, ok := status(t, f, fmt.Sprintf("%s:device-%04d", id, i)); ok {
			t.Fatalf("device %d is still there", i)
		}
	}
	if st, ok := status(t, f, other); !ok || st.Status != history.StatusCompleted {
		t.Fatalf("the unrelated instance: %+v (found %v)", st, ok)
	}
}
