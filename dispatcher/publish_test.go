package dispatcher

import (
	"fmt"
	"testing"

	"github.com/warrenhq/warren/queues"
)

func TestRefusedByBroker(t *testing.T) {
	ids := []string{"a", "b"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"returned unroutable", unroutable("a"), true},
		{"wrapped", fmt.Errorf("publishing: %w", unroutable("a")), true},
		{"not confirmed (nacked, or lost with the connection)", unconfirmed("a"), false},
		{"one of two returned", &queues.PublishError{Queue: "q", Unroutable: []int{0}, IDs: ids}, false},
		{"one returned, one unconfirmed", &queues.PublishError{Queue: "q", Unroutable: []int{0}, Unconfirmed: []int{1}, IDs: ids}, false},
		{"another error", errDown, false},
		{"only the sentinel", queues.ErrUnroutable, false},
	}
	for _, c := range cases {
		if got := refusedByBroker(c.err); got != c.want {
			t.Errorf("%s: refusedByBroker = %v, want %v", c.name, got, c.want)
		}
	}
}
