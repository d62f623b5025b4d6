package durable_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
)

type declined struct{}

func (declined) Error() string     { return "no funds" }
func (declined) ErrorType() string { return "PaymentDeclined" }

// A grandchild's failure reaches the grandparent as a chain errors.As walks, and the
// grandparent's own failure prints the whole chain.
func TestFailureChainAcrossOrchestrations(t *testing.T) {
	r := durable.NewRegistry()
	var types []string
	call := func(child string) func(*durable.OrchestrationContext, string) (string, error) {
		return func(ctx *durable.OrchestrationContext, _ string) (string, error) {
			return "", ctx.CallSubOrchestrator(child, nil).Await(nil)
		}
	}
	must(t, errors.Join(
		durable.AddOrchestrator(r, "Grand", func(ctx *durable.OrchestrationContext, _ string) (string, error) {
			err := ctx.CallSubOrchestrator("Parent", nil).Await(nil)
			var f *history.Failure
			if errors.As(err, &f) {
				types = nil
				for ; f != nil; f = f.Cause {
					types = append(types, f.Type)
				}
			}
			return "", err
		}),
		durable.AddOrchestrator(r, "Parent", call("Child")),
		durable.AddOrchestrator(r, "Child", func(ctx *durable.OrchestrationContext, _ string) (string, error) {
			return "", ctx.CallActivity("Pay", nil).Await(nil)
		}),
		durable.AddActivity(r, "Pay", func(context.Context, any) (string, error) { return "", declined{} }),
	))
	h := durabletest.New(r)
	must(t, h.Start("Grand", "g", ""))
	must(t, h.Run())
	if got := strings.Join(types, " > "); got != "TaskFailedError > TaskFailedError > PaymentDeclined" {
		t.Fatalf("the chain the grandparent walked: %s", got)
	}
	f := h.Failure("g")
	if f == nil || strings.Count(f.Error(), "(caused by ") != 3 || !strings.HasSuffix(f.Error(), "(caused by PaymentDeclined: no funds)") {
		t.Fatalf("the grandparent's failure does not print its chain: %v", f)
	}
}
