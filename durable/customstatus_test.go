package durable_test

import (
	"strings"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
)

// A custom status that cannot be encoded fails at the call and leaves the last one.
func TestSetCustomStatusRefusesWhatCannotBeEncoded(t *testing.T) {
	r := durable.NewRegistry()
	must(t, durable.AddOrchestrator(r, "O", func(ctx *durable.OrchestrationContext, _ string) (string, error) {
		must(t, ctx.SetCustomStatus("half way"))
		err := ctx.SetCustomStatus(make(chan int))
		if err == nil || !strings.Contains(err.Error(), "encoding the custom status") {
			return "", err
		}
		return "refused", nil
	}))
	h := durabletest.New(r)
	must(t, h.Start("O", "o", ""))
	must(t, h.Run())
	wantOutput(t, h, "o", "refused")
	if got := string(h.CustomStatus("o")); got != `"half way"` {
		t.Fatalf("custom status %s, want the last one that could be encoded", got)
	}
}
