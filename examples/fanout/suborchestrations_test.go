package fanout_test

import (
	"testing"

	"github.com/warrenhq/warren/examples/fanout"
	"github.com/warrenhq/warren/history"
)

func TestSubOrchestrations(t *testing.T) {
	for _, c := range []struct {
		in   fanout.SubInput
		want int64
	}{
		{fanout.SubInput{}, 0},
		{fanout.SubInput{Children: 1, Activities: 3}, 1 + 4 + 9},
		{fanout.SubInput{Children: 100, Activities: 3}, 300 * 301 * 601 / 6}, // 1² + … + 300²
	} {
		if st, sum := runSum(t, "SubOrchestrations", c.in); st != history.StatusCompleted || sum != c.want {
			t.Fatalf("%+v: %s, sum %d, want %d", c.in, st, sum, c.want)
		}
	}
	if st, _ := runSum(t, "SubOrchestrations", fanout.SubInput{Children: -1}); st != history.StatusFailed {
		t.Fatalf("a negative count: %s", st)
	}
}
