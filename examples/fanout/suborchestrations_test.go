package fanout_test

import (
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/examples/fanout"
	"github.com/warrenhq/warren/history"
)

func TestSubOrchestrations(t *testing.T) {
	r := durable.NewRegistry()
	if err := fanout.Register(r); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   fanout.SubInput
		want int64
	}{
		{fanout.SubInput{}, 0},
		{fanout.SubInput{Children: 1, Activities: 3}, 1 + 4 + 9},
		{fanout.SubInput{Children: 100, Activities: 3}, 300 * 301 * 601 / 6}, // 1² + … + 300²
	} {
		h := durabletest.New(r)
		if err := h.Start("SubOrchestrations", "s", c.in); err != nil {
			t.Fatal(err)
		}
		if err := h.Run(); err != nil {
			t.Fatal(err)
		}
		var sum int64
		if err := h.Output("s", &sum); err != nil {
			t.Fatal(err)
		}
		if sum != c.want {
			t.Fatalf("%+v: sum %d, want %d", c.in, sum, c.want)
		}
	}
	h := durabletest.New(r)
	if err := h.Start("SubOrchestrations", "bad", fanout.SubInput{Children: -1}); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	if h.Status("bad") != history.StatusFailed {
		t.Fatalf("a negative count: %s", h.Status("bad"))
	}
}
