package fanout_test

import (
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/examples/fanout"
	"github.com/warrenhq/warren/history"
)

func TestFanOutFanIn(t *testing.T) {
	r := durable.NewRegistry()
	if err := fanout.Register(r); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		n    int
		want int64
	}{{0, 0}, {1, 1}, {10, 385}, {100, 338350}} {
		h := durabletest.New(r)
		if err := h.Start("FanOutFanIn", "f", fanout.Input{Count: c.n}); err != nil {
			t.Fatal(err)
		}
		if err := h.Run(); err != nil {
			t.Fatal(err)
		}
		var sum int64
		if err := h.Output("f", &sum); err != nil {
			t.Fatal(err)
		}
		if sum != c.want {
			t.Fatalf("count %d: sum %d, want %d", c.n, sum, c.want)
		}
	}
	h := durabletest.New(r)
	if err := h.Start("FanOutFanIn", "bad", fanout.Input{Count: -1}); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	if h.Status("bad") != history.StatusFailed {
		t.Fatalf("a negative count: %s", h.Status("bad"))
	}
}
