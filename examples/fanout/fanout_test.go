package fanout_test

import (
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/examples/fanout"
	"github.com/warrenhq/warren/history"
)

// runSum runs one orchestration of this package to its end in memory and returns its
// status and, when it completed, its output.
func runSum(t *testing.T, name string, input any) (history.Status, int64) {
	t.Helper()
	r := durable.NewRegistry()
	if err := fanout.Register(r); err != nil {
		t.Fatal(err)
	}
	h := durabletest.New(r)
	if err := h.Start(name, "i", input); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	var sum int64
	if h.Status("i") == history.StatusCompleted {
		if err := h.Output("i", &sum); err != nil {
			t.Fatal(err)
		}
	}
	return h.Status("i"), sum
}

func TestFanOutFanIn(t *testing.T) {
	for _, c := range []struct {
		n    int
		want int64
	}{{0, 0}, {1, 1}, {10, 385}, {100, 338350}} {
		if st, sum := runSum(t, "FanOutFanIn", fanout.Input{Count: c.n}); st != history.StatusCompleted || sum != c.want {
			t.Fatalf("count %d: %s, sum %d, want %d", c.n, st, sum, c.want)
		}
	}
	if st, _ := runSum(t, "FanOutFanIn", fanout.Input{Count: -1}); st != history.StatusFailed {
		t.Fatalf("a negative count: %s", st)
	}
}
