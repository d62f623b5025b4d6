package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/warrenhq/warren/history"
)

// CreateInstances creates each instance on its own: a taken id, or an id the store refuses,
// fails only its own create, and the others are written as given.
func testCreateInstancesEachAlone(t *testing.T, s history.Store) {
	ctx := testContext(t)
	taken := version("taken", 1, 4, history.StatusRunning, "first")
	if err := s.CreateInstance(ctx, taken); err != nil {
		t.Fatal(err)
	}
	a := version("a", 1, 0, history.StatusPending, "dispatcher")
	a.Input = json.RawMessage(`{"n":1}`)
	again := version("taken", 1, 0, history.StatusPending, "second")
	bad := version("", 1, 0, history.StatusPending, "dispatcher")
	b := version("b", 2, 0, history.StatusPending, "dispatcher")
	errs := s.CreateInstances(ctx, []*history.Instance{a, again, bad, b})
	if len(errs) != 4 {
		t.Fatalf("CreateInstances returned %d errors for 4 instances", len(errs))
	}
	if errs[0] != nil || errs[3] != nil {
		t.Fatalf("new instances: %v, %v", errs[0], errs[3])
	}
	if !errors.Is(errs[1], history.ErrInstanceExists) {
		t.Errorf("taken id: %v, want ErrInstanceExists", errs[1])
	}
	if !errors.Is(errs[2], history.ErrInvalidArgument) {
		t.Errorf("empty id: %v, want ErrInvalidArgument", errs[2])
	}
	for _, want := range []*history.Instance{a, b, taken} {
		got, err := s.GetInstance(ctx, want.InstanceID)
		if err != nil {
			t.Fatalf("%s: %v", want.InstanceID, err)
		}
		if got.Executions != want.Executions || got.LastEpisode != want.LastEpisode || got.Status != want.Status ||
			string(got.CustomStatus) != string(want.CustomStatus) || string(got.Input) != string(want.Input) {
			t.Errorf("%s: stored %+v, want %+v", want.InstanceID, got, want)
		}
	}
	if errs := s.CreateInstances(ctx, nil); len(errs) != 0 {
		t.Errorf("an empty batch: %v", errs)
	}
}
