package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// UpdateInstances writes what readers see of each document on its own: a newer stored
// version refuses only its own write, a missing document only its own, a document of
// another incarnation (the id purged and created again since) only its own, and the fields
// the creator wrote (name, input, creation time, parent, trace) stay as they were.
func testUpdateInstancesEachAlone(t *testing.T, s history.Store) {
	ctx := testContext(t)
	created := version("created", 1, 0, history.StatusPending, "dispatcher")
	created.Input = json.RawMessage(`{"n":1}`)
	created.ParentInstanceID = "parent"
	created.TraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	ahead := version("ahead", 1, 7, history.StatusCompleted, "owner")
	reborn := version("reborn", 1, 0, history.StatusPending, "dispatcher")
	reborn.CreatedAt = reborn.CreatedAt.Add(time.Minute)
	for _, inst := range []*history.Instance{created, ahead, reborn} {
		if err := s.CreateInstance(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}

	done := version("created", 1, 3, history.StatusCompleted, "worker")
	done.Name, done.Input, done.ParentInstanceID, done.TraceID = "Other", json.RawMessage(`"ignored"`), "", ""
	done.CreatedAt = done.CreatedAt.Add(400 * time.Microsecond) // the same millisecond, as stored
	done.Output = json.RawMessage(`"out"`)
	done.CustomStatus = nil
	behind := version("ahead", 1, 6, history.StatusRunning, "late")
	missing := version("missing", 1, 1, history.StatusRunning, "worker")
	// The late write of the incarnation before: a version newer than the stored one's, of
	// an instance created a minute earlier.
	late := version("reborn", 1, 3, history.StatusCompleted, "late")
	late.Output = json.RawMessage(`"old"`)
	errs := s.UpdateInstances(ctx, []*history.Instance{done, behind, missing, late})
	if len(errs) != 4 {
		t.Fatalf("UpdateInstances returned %d errors for 4 documents", len(errs))
	}
	if errs[0] != nil {
		t.Errorf("writing a newer version: %v", errs[0])
	}
	if !errors.Is(errs[1], history.ErrStaleInstance) {
		t.Errorf("writing an older version: got %v, want ErrStaleInstance", errs[1])
	}
	if !errors.Is(errs[2], history.ErrInstanceNotFound) {
		t.Errorf("writing a missing document: got %v, want ErrInstanceNotFound", errs[2])
	}
	if !errors.Is(errs[3], history.ErrInstanceNotFound) {
		t.Errorf("writing a document of the incarnation before: got %v, want ErrInstanceNotFound", errs[3])
	}

	got, err := s.GetInstance(ctx, "created")
	if err != nil {
		t.Fatal(err)
	}
	want := *created
	want.SetReadModel(done.ReadModel())
	if diff := diffInstance(got, &want); diff != "" {
		t.Errorf("after UpdateInstances: %s", diff)
	}
	got, err = s.GetInstance(ctx, "ahead")
	if err != nil {
		t.Fatal(err)
	}
	if got.LastEpisode != 7 || got.Status != history.StatusCompleted {
		t.Errorf("the newer document was overwritten: episode %d, %s", got.LastEpisode, got.Status)
	}
	got, err = s.GetInstance(ctx, "reborn")
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffInstance(got, reborn); diff != "" {
		t.Errorf("a write of the incarnation before changed the document: %s", diff)
	}
	if _, err := s.GetInstance(ctx, "missing"); !errors.Is(err, history.ErrInstanceNotFound) {
		t.Errorf("UpdateInstances created a missing document: %v", err)
	}
	if errs := s.UpdateInstances(ctx, nil); len(errs) != 0 {
		t.Errorf("an empty batch returned %d errors", len(errs))
	}
}

// diffInstance compares the fields a reader sees, times to the millisecond.
func diffInstance(got, want *history.Instance) string {
	g, w := *got, *want
	g.CreatedAt, w.CreatedAt = g.CreatedAt.Truncate(time.Millisecond), w.CreatedAt.Truncate(time.Millisecond)
	g.LastUpdatedAt, w.LastUpdatedAt = g.LastUpdatedAt.Truncate(time.Millisecond), w.LastUpdatedAt.Truncate(time.Millisecond)
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		return fmt.Sprintf("got %s\nwant %s", gj, wj)
	}
	return ""
}

// LoadHistories answers for many executions at once what LoadHistory answers for each.
func testLoadHistories(t *testing.T, s history.Store) {
	ctx := testContext(t)
	var eps []*history.Episode
	for _, ep := range []struct {
		inst, exec string
		n          int64
	}{{"a", "x1", 2}, {"a", "x1", 1}, {"a", "x2", 1}, {"b", "y", 1}, {"b", "y", 3}, {"b", "y", 2}, {"c", "z", 1}} {
		eps = append(eps, episode(ep.inst, ep.exec, ep.n, fmt.Sprintf("%s/%s/%d", ep.inst, ep.exec, ep.n)))
	}
	commit(t, s, eps...)
	refs := []history.ExecutionRef{{InstanceID: "a", ExecutionID: "x1"}, {InstanceID: "b", ExecutionID: "y"}, {InstanceID: "a", ExecutionID: "none"}}
	got, err := s.LoadHistories(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("LoadHistories returned %d executions, want 2 (one asked for has no history, two were not asked for)", len(got))
	}
	for _, r := range refs {
		want, err := s.LoadHistory(ctx, r.InstanceID, r.ExecutionID)
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got[r])
		if len(want) == 0 {
			if _, ok := got[r]; ok {
				t.Errorf("%v: an execution without history is in the map", r)
			}
			continue
		}
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%v: LoadHistories gave %s, LoadHistory %s", r, gj, wj)
		}
	}
	if _, err := s.LoadHistories(ctx, []history.ExecutionRef{{InstanceID: "", ExecutionID: "x"}}); !errors.Is(err, history.ErrInvalidArgument) {
		t.Errorf("an empty instance id: got %v, want ErrInvalidArgument", err)
	}
}
