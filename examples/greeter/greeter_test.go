package greeter

import (
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
)

func TestGreeterApproved(t *testing.T) {
	r := durable.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	h := durabletest.New(r)
	if err := h.Start("Greeter", "g-1", []string{"Ann", "Bo"}); err != nil {
		t.Fatal(err)
	}
	if err := h.RunUntilIdle(); err != nil { // activities ran; now waiting for Approve
		t.Fatal(err)
	}
	if err := h.RaiseEvent("g-1", "Approve", true); err != nil {
		t.Fatal(err)
	}
	if err := h.RunUntilIdle(); err != nil {
		t.Fatal(err)
	}
	var out []string
	if err := h.Output("g-1", &out); err != nil {
		t.Fatal(err)
	}
	if strings.Join(out, " ") != "Hello, Ann! Hello, Bo!" {
		t.Fatalf("got %q", out)
	}
}

func TestGreeterTimesOutWithoutApproval(t *testing.T) {
	r := durable.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	h := durabletest.New(r)
	if err := h.Start("Greeter", "g-2", []string{"Cy"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Advance(24 * time.Hour); err != nil { // a virtual day, in microseconds
		t.Fatal(err)
	}
	if st := h.Status("g-2"); st != history.StatusFailed {
		t.Fatalf("status %s, want Failed", st)
	}
	if f := h.Failure("g-2"); f == nil || !strings.Contains(strings.ToLower(f.Type+f.Message), "timeout") {
		t.Fatalf("failure %+v, want a timeout", f)
	}
}
