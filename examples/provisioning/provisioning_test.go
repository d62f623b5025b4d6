package provisioning_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/examples/provisioning"
	"github.com/warrenhq/warren/history"
)

func newHarness(t *testing.T) *durabletest.Harness {
	t.Helper()
	r := durable.NewRegistry()
	if err := provisioning.Register(r); err != nil {
		t.Fatal(err)
	}
	return durabletest.New(r)
}

func TestSeedScenarioTwentyFiveDevices(t *testing.T) {
	h := newHarness(t)
	must(t, h.Start("ProvisionNewDevices", "batch-7", provisioning.Input{Devices: 25}))
	must(t, h.RunUntilIdle())
	if got := h.Status("batch-7"); got != history.StatusRunning {
		t.Fatalf("parent is %s before the acks, want Running", got)
	}
	for i := 1; i <= 25; i++ {
		child := fmt.Sprintf("batch-7:device-%04d", i)
		if got := h.Status(child); got != history.StatusRunning {
			t.Fatalf("child %s is %q, want Running", child, got)
		}
		must(t, h.RaiseEvent(child, "DownloadCompletedAck", true))
	}
	must(t, h.RunUntilIdle())
	var out provisioning.Output
	must(t, h.Output("batch-7", &out))
	if out.Provisioned != 25 {
		t.Fatalf("provisioned = %d, want 25", out.Provisioned)
	}
	if h.Now() != durabletest.Start {
		t.Fatalf("the clock moved to %v without any timer being due", h.Now())
	}
}

func TestDeviceNegativeAckIsRetriedThenFailsTheBatch(t *testing.T) {
	h := newHarness(t)
	must(t, h.Start("ProvisionNewDevices", "b", provisioning.Input{Devices: 1}))
	must(t, h.RunUntilIdle())
	for attempt := 1; attempt <= provisioning.DeviceRetry.MaxAttempts; attempt++ {
		must(t, h.RaiseEvent("b:device-0001", "DownloadCompletedAck", false))
		must(t, h.RunUntilIdle())
		if attempt < provisioning.DeviceRetry.MaxAttempts {
			must(t, h.Advance(provisioning.DeviceRetry.Delay(attempt)))
			if got := h.Status("b:device-0001"); got != history.StatusRunning {
				t.Fatalf("after attempt %d the child is %s, want Running (retried)", attempt, got)
			}
		}
	}
	if got := h.Status("b"); got != history.StatusFailed {
		t.Fatalf("batch is %s, want Failed", got)
	}
	f := h.Failure("b")
	if f == nil || f.Type != "TaskFailedError" || f.Cause == nil || f.Cause.Message != "device device-0001 reported that its download failed" {
		t.Fatalf("failure = %+v", f)
	}
}

func TestDeviceAckTimeout(t *testing.T) {
	h := newHarness(t)
	must(t, h.Start("DeviceProvisioningOrchestration", "d", "device-0042"))
	must(t, h.Advance(provisioning.AckTimeout))
	if got := h.Status("d"); got != history.StatusFailed {
		t.Fatalf("status %s, want Failed", got)
	}
	if f := h.Failure("d"); f == nil || f.Type != "Timeout" {
		t.Fatalf("failure = %+v, want a Timeout", f)
	}
	if !errors.Is(fmt.Errorf("x: %w", durable.ErrTimeout), durable.ErrTimeout) {
		t.Fatal("ErrTimeout is not errors.Is-able")
	}
	if h.Now() != durabletest.Start.Add(24*time.Hour) {
		t.Fatalf("clock %v", h.Now())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
