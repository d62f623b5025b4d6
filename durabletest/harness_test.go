package durabletest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
)

func register(t *testing.T) *durable.Registry {
	t.Helper()
	r := durable.NewRegistry()
	err := errors.Join(
		durable.AddOrchestrator(r, "Nap", func(ctx *durable.OrchestrationContext, minutes []int) ([]string, error) {
			var woke []string
			for _, m := range minutes {
				if err := ctx.CreateTimer(time.Duration(m) * time.Minute).Await(nil); err != nil {
					return nil, err
				}
				woke = append(woke, ctx.CurrentTime().Format("15:04"))
			}
			return woke, nil
		}),
		durable.AddOrchestrator(r, "Echo", func(ctx *durable.OrchestrationContext, s string) (string, error) {
			var out string
			err := ctx.CallActivity("Upper", s).Await(&out)
			return out, err
		}),
		durable.AddActivity(r, "Upper", func(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil }),
	)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAdvanceFiresTimersAtTheirTime(t *testing.T) {
	h := durabletest.New(register(t))
	if err := h.Start("Nap", "n", []int{30, 45}); err != nil {
		t.Fatal(err)
	}
	if err := h.Advance(29 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if h.Status("n") != history.StatusRunning {
		t.Fatalf("status %s", h.Status("n"))
	}
	if err := h.Advance(2 * time.Hour); err != nil {
		t.Fatal(err)
	}
	var woke []string
	if err := h.Output("n", &woke); err != nil {
		t.Fatal(err)
	}
	if strings.Join(woke, " ") != "00:30 01:15" {
		t.Fatalf("woke at %v", woke)
	}
	if got := h.Now().Sub(durabletest.Start); got != 2*time.Hour+29*time.Minute {
		t.Fatalf("clock moved %v", got)
	}
}

func TestRunMovesTheClockThroughEveryTimer(t *testing.T) {
	h := durabletest.New(register(t))
	if err := h.Start("Nap", "n", []int{24 * 60}); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	if h.Status("n") != history.StatusCompleted || h.Now() != durabletest.Start.Add(24*time.Hour) {
		t.Fatalf("status %s at %v", h.Status("n"), h.Now())
	}
}

func TestHarnessErrorsAndEpisodes(t *testing.T) {
	h := durabletest.New(register(t))
	var episodes []string
	h.OnEpisode(func(id string, past []history.Event, res *durable.Result) {
		episodes = append(episodes, fmt.Sprintf("%s:%d+%d:%s", id, len(past), len(res.NewEvents), res.Status))
	})
	if err := h.Start("Nope", "x", nil); err == nil {
		t.Fatal("an unknown orchestrator started")
	}
	if err := h.Start("Echo", "e", "hi"); err != nil {
		t.Fatal(err)
	}
	if err := h.Start("Echo", "e", "again"); err == nil {
		t.Fatal("started a running instance twice")
	}
	if err := h.RaiseEvent("nobody", "x", nil); err == nil {
		t.Fatal("raised an event for an unknown instance")
	}
	var out string
	if err := h.Output("e", &out); err == nil {
		t.Fatal("output of a pending instance")
	}
	if err := h.RunUntilIdle(); err != nil {
		t.Fatal(err)
	}
	if err := h.Output("e", &out); err != nil || out != "HI" {
		t.Fatalf("output %q, %v", out, err)
	}
	if got := strings.Join(episodes, " "); got != "e:0+3:Running e:3+3:Completed" {
		t.Fatalf("episodes %s", got)
	}
	// An ended instance may start again, as a new execution.
	if err := h.Start("Echo", "e", "again"); err != nil {
		t.Fatal(err)
	}
	if err := h.RunUntilIdle(); err != nil {
		t.Fatal(err)
	}
	if err := h.Output("e", &out); err != nil || out != "AGAIN" || len(h.History("e")) != 6 {
		t.Fatalf("output %q, %v, %d events", out, err, len(h.History("e")))
	}
	if got := h.Instances(); len(got) != 1 || got[0] != "e" {
		t.Fatalf("instances %v", got)
	}
}

// A complete orchestration tested with the harness.
func Example() {
	r := durable.NewRegistry()
	_ = durable.AddOrchestrator(r, "Greet", func(ctx *durable.OrchestrationContext, name string) (string, error) {
		var greeting string
		err := ctx.CallActivity("SayHello", name).Await(&greeting)
		return greeting, err
	})
	_ = durable.AddActivity(r, "SayHello", func(_ context.Context, name string) (string, error) {
		return "Hello, " + name + "!", nil
	})

	h := durabletest.New(r)
	_ = h.Start("Greet", "greet-1", "Tokyo")
	_ = h.Run()
	var out string
	_ = h.Output("greet-1", &out)
	fmt.Println(h.Status("greet-1"), out)
	// Output: Completed Hello, Tokyo!
}
