package dispatcher_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
)

// A bulk purge through the API against the real store deletes the ended instances the
// filter selects, with their histories, across batches, and nothing else; a refused one
// deletes nothing.
func TestServicesPurgeMany(t *testing.T) {
	r := newServicesRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	old := time.Now().UTC().Add(-48 * time.Hour)
	const ended = 520 // more than one batch of 500
	var eps []*history.Episode
	create := func(id string, st history.Status, created time.Time) {
		t.Helper()
		inst := &history.Instance{InstanceID: id, Name: "Hello", ExecutionID: "e-" + id, Executions: 1, Status: st,
			CreatedAt: created, LastUpdatedAt: created}
		if err := r.store.CreateInstance(ctx, inst); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, &history.Episode{InstanceID: id, ExecutionID: "e-" + id, Number: 1,
			Events:      []history.Event{{Version: history.SchemaVersion, Kind: history.ExecutionStarted, Name: "Hello", Timestamp: created}},
			CommittedAt: created})
	}
	for i := range ended {
		create(fmt.Sprintf("done-%03d", i), []history.Status{history.StatusCompleted, history.StatusFailed}[i%2], old)
	}
	create("old-terminated", history.StatusTerminated, old)
	create("old-running", history.StatusRunning, old)
	create("new-done", history.StatusCompleted, time.Now().UTC())
	for i, err := range r.store.CommitEpisodes(ctx, eps) {
		if err != nil {
			t.Fatalf("episode %d: %v", i, err)
		}
	}

	// Refused: a live status, and no filter at all.
	for _, f := range []client.PurgeFilter{
		{Statuses: []history.Status{history.StatusCompleted, history.StatusRunning}},
		{Name: "Hello"},
	} {
		var ae *client.APIError
		if n, err := r.c.PurgeInstances(ctx, f); !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || n != 0 {
			t.Fatalf("PurgeInstances(%+v) = %d, %v; want 400", f, n, err)
		}
	}
	if page, _, err := r.store.ListInstances(ctx, history.ListFilter{PageSize: 1000}); err != nil || len(page) != ended+3 {
		t.Fatalf("after refused purges: %d instances (%v)", len(page), err)
	}

	n, err := r.c.PurgeInstances(ctx, client.PurgeFilter{
		Statuses:  []history.Status{history.StatusCompleted, history.StatusFailed},
		Name:      "Hello",
		CreatedTo: time.Now().Add(-24 * time.Hour),
	})
	if err != nil || n != ended {
		t.Fatalf("PurgeInstances = %d, %v; want %d", n, err, ended)
	}
	page, _, err := r.store.ListInstances(ctx, history.ListFilter{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, inst := range page {
		left = append(left, inst.InstanceID)
		if eps, err := r.store.LoadHistory(ctx, inst.InstanceID, inst.ExecutionID); err != nil || len(eps) != 1 {
			t.Errorf("%s kept %d episodes (%v)", inst.InstanceID, len(eps), err)
		}
	}
	if fmt.Sprint(left) != "[old-running old-terminated new-done]" && fmt.Sprint(left) != "[old-terminated old-running new-done]" {
		t.Fatalf("left %q", left)
	}
	for _, id := range []string{"done-000", "done-001", "done-519"} {
		if eps, err := r.store.LoadHistory(ctx, id, "e-"+id); err != nil || len(eps) != 0 {
			t.Errorf("purged %s kept %d episodes (%v)", id, len(eps), err)
		}
	}
}
