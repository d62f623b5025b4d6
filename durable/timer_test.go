package durable_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
)

// race runs activity Fast against a one-hour timer, cancels the timer once the activity
// has won when cancel is set, then naps two hours, and reports which won. With
// sameEpisode it cancels the timer right after creating it instead, and awaits the
// activity alone.
func race(cancel, sameEpisode bool) func(*durable.OrchestrationContext, string) (string, error) {
	return func(ctx *durable.OrchestrationContext, _ string) (string, error) {
		fast := ctx.CallActivity("Fast", nil)
		timer := ctx.CreateTimer(time.Hour)
		winner := "activity"
		if sameEpisode {
			timer.Cancel()
			if err := timer.Await(nil); !errors.Is(err, durable.ErrCanceled) {
				return "", errors.New("a cancelled timer's Await did not say ErrCanceled")
			}
			if err := fast.Await(nil); err != nil {
				return "", err
			}
		} else {
			first := durable.WhenAny(fast, timer)
			if err := first.Await(nil); err != nil {
				return "", err
			}
			if cancel {
				timer.Cancel()
			}
			if first.Winner() != fast {
				winner = "timer"
			}
		}
		return winner, ctx.CreateTimer(2 * time.Hour).Await(nil)
	}
}

func raceHistory(t *testing.T, cancel, sameEpisode bool) (*durabletest.Harness, *durable.Registry) {
	t.Helper()
	r := durable.NewRegistry()
	must(t, errors.Join(
		durable.AddOrchestrator(r, "Race", race(cancel, sameEpisode)),
		durable.AddActivity(r, "Fast", func(context.Context, any) (int, error) { return 1, nil }),
	))
	h := durabletest.New(r)
	must(t, h.Start("Race", "r", ""))
	must(t, h.Run())
	wantStatus(t, h, "r", history.StatusCompleted)
	wantOutput(t, h, "r", "activity")
	if err := durabletest.Replay(r, h.History("r")); err != nil {
		t.Fatal(err)
	}
	return h, r
}

func TestACancelledTimerNeverFiresIntoHistory(t *testing.T) {
	for _, c := range []struct {
		name                string
		cancel, sameEpisode bool
		created, fired      int
		episodes            int // the harness forgets a cancelled timer: no episode for it
	}{
		{"not cancelled: the loser fires", false, false, 2, 2, 4},
		{"cancelled after losing", true, false, 2, 1, 3},
		{"cancelled in the episode that made it", true, true, 1, 1, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, _ := raceHistory(t, c.cancel, c.sameEpisode)
			evs := h.History("r")
			created, fired, episodes := 0, 0, 0
			for _, ev := range evs {
				switch ev.Kind {
				case history.OrchestratorStarted:
					episodes++
				case history.TimerCreated:
					created++
				case history.TimerFired:
					fired++
				}
			}
			if created != c.created || fired != c.fired || episodes != c.episodes {
				t.Fatalf("%d TimerCreated, %d TimerFired, %d episodes; want %d, %d, %d: %s",
					created, fired, episodes, c.created, c.fired, c.episodes, describeEvents(evs))
			}
		})
	}
}

// A worker gets the firing of a timer cancelled in an earlier episode all the same (the
// broker had it): the executor leaves it out.
func TestTheFiringOfACancelledTimerIsLeftOut(t *testing.T) {
	h, r := raceHistory(t, true, false)
	past := h.History("r")
	// Replay up to the activity's result, then deliver it with the timer's firing, as a
	// worker would that got both in one batch.
	cut := 0
	for past[cut].Kind != history.TaskCompleted {
		cut++
	}
	cut--
	res, err := durable.NewExecutor(r).Execute("r", past[:cut], []history.Event{
		past[cut+1], // the activity's result: the activity wins, the timer is cancelled
		{Version: 1, Kind: history.TimerFired, TaskID: 2, Timestamp: at(60)},
	}, at(60))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range res.NewEvents {
		if ev.Kind == history.TimerFired {
			t.Fatalf("the cancelled timer fired into history: %s", describeEvents(res.NewEvents))
		}
	}
	if len(res.CanceledTimers) != 1 || res.CanceledTimers[0] != 2 {
		t.Fatalf("canceled timers %v, want [2]", res.CanceledTimers)
	}
}
