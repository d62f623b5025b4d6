package durabletest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/history"
)

func TestSnapshotNextTimerAndRunFor(t *testing.T) {
	h := durabletest.New(register(t))
	if err := h.Start("Nap", "n", []int{30, 45}); err != nil {
		t.Fatal(err)
	}
	snap, err := h.Snapshot("n")
	if err != nil || snap.Name != "Nap" || snap.Status != history.StatusPending {
		t.Fatalf("before the first episode: %+v, %v", snap, err)
	}
	if _, ok := h.NextTimer(); ok {
		t.Fatal("a timer before the first episode")
	}
	if err := h.RunUntilIdle(); err != nil {
		t.Fatal(err)
	}
	if next, ok := h.NextTimer(); !ok || !next.Equal(durabletest.Start.Add(30*time.Minute)) {
		t.Fatalf("next timer %v %v, want at 00:30", next, ok)
	}
	// 40 minutes: the first timer fires at 00:30, the second (01:15) is beyond reach.
	if err := h.RunFor(40 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if h.Now() != durabletest.Start.Add(30*time.Minute) {
		t.Fatalf("clock at %v, want at the timer it fired (00:30)", h.Now())
	}
	if next, ok := h.NextTimer(); !ok || !next.Equal(durabletest.Start.Add(75*time.Minute)) {
		t.Fatalf("next timer %v %v, want at 01:15", next, ok)
	}
	if err := h.RunFor(time.Hour); err != nil {
		t.Fatal(err)
	}
	snap, err = h.Snapshot("n")
	if err != nil || snap.Status != history.StatusCompleted || string(snap.Output) != `["00:30","01:15"]` || snap.Failure != nil {
		t.Fatalf("at the end: %+v, %v", snap, err)
	}
	if _, ok := h.NextTimer(); ok {
		t.Fatal("a timer after the end")
	}
	if _, err := h.Snapshot("ghost"); err == nil {
		t.Fatal("a snapshot of an unknown instance")
	}
	if err := h.RunFor(-time.Second); err == nil {
		t.Fatal("RunFor accepted a negative duration")
	}
}

func TestOnActivityReplacesAnActivity(t *testing.T) {
	h := durabletest.New(register(t))
	var got []string
	err := h.OnActivity("Upper", func(_ context.Context, in json.RawMessage) (any, error) {
		var s string
		if err := json.Unmarshal(in, &s); err != nil {
			return nil, err
		}
		got = append(got, s)
		if s == "boom" {
			return nil, errors.New("mocked failure")
		}
		return "MOCK " + s, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ok", "boom"} {
		if err := h.Start("Echo", id, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := h.Output("ok", &out); err != nil || out != "MOCK ok" {
		t.Fatalf("output %q, %v", out, err)
	}
	if f := h.Failure("boom"); f == nil || !strings.Contains(f.Error(), "mocked failure") {
		t.Fatalf("failure %v", f)
	}
	if strings.Join(got, ",") != "ok,boom" {
		t.Fatalf("the replacement saw %v", got)
	}
	if err := h.OnActivity("Upper", nil); err == nil {
		t.Fatal("a nil replacement was accepted")
	}
}

func TestSignalsToAnEndedInstanceSayTheyChangeNothing(t *testing.T) {
	h := durabletest.New(register(t))
	if err := h.Start("Echo", "e", "x"); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"raise":     func() error { return h.RaiseEvent("e", "go", nil) },
		"terminate": func() error { return h.Terminate("e", "", false) },
		"suspend":   func() error { return h.Suspend("e", "") },
		"resume":    func() error { return h.Resume("e", "") },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), `instance "e" has ended (Completed)`) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := h.RaiseEvent("ghost", "go", nil); err == nil || !strings.Contains(err.Error(), `no instance "ghost"`) {
		t.Errorf("raise on an unknown instance: %v", err)
	}
}
