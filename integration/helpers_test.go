package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/internal/fleettest"
)

// status reads an instance's status through `client status --json`.
func status(t *testing.T, f *fleettest.Fleet, id string) (api.Status, bool) {
	t.Helper()
	r := f.Client("status", id, "--json")
	if r.Code != 0 {
		return api.Status{}, false
	}
	var st api.Status
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("client status --json printed %q: %v", r.Stdout, err)
	}
	return st, true
}

// waitDone waits through `client wait` and returns the final status and the exit code.
func waitDone(t *testing.T, f *fleettest.Fleet, id, timeout string) (api.Status, int) {
	t.Helper()
	r := f.Client("wait", id, "--timeout", timeout, "--json")
	var st api.Status
	if r.Code == 0 || r.Code == 3 {
		if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
			t.Fatalf("client wait --json printed %q: %v", r.Stdout, err)
		}
	}
	return st, r.Code
}

// events reads an instance's history through `client history --json`.
func events(t *testing.T, f *fleettest.Fleet, id string) []history.Event {
	t.Helper()
	out := f.MustClient("history", id, "--json")
	var withHist api.StatusWithHistory
	if err := json.Unmarshal([]byte(out), &withHist); err != nil {
		t.Fatalf("client history --json printed %q: %v", out, err)
	}
	return withHist.History
}

// count counts the events of a kind (and, when name is not empty, of that name).
func count(evs []history.Event, kind history.Kind, name string) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind && (name == "" || e.Name == name) {
			n++
		}
	}
	return n
}

// list reads instances through `client list --json`.
func list(t *testing.T, f *fleettest.Fleet, args ...string) []api.Status {
	t.Helper()
	out := f.MustClient(append([]string{"list", "--json"}, args...)...)
	var sts []api.Status
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("client list --json printed %q: %v", out, err)
	}
	return sts
}

// compact is raw JSON without insignificant spaces, for comparing outputs.
func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("output %q is not JSON: %v", raw, err)
	}
	return b.String()
}

// helloResults checks a HelloSequence's history for its five activity results, each applied
// once; it returns what is wrong, and how many results were applied more than once.
func helloResults(id string, evs []history.Event) (problems []string, twice int) {
	results := map[int64]int{}
	for _, e := range evs {
		if e.Kind == history.TaskCompleted {
			results[e.TaskID]++
		}
	}
	if len(results) != 5 {
		problems = append(problems, fmt.Sprintf("%s: %d distinct activity results, want 5", id, len(results)))
	}
	for task, n := range results {
		if n != 1 {
			twice++
			problems = append(problems, fmt.Sprintf("%s: result of task %d applied %d times", id, task, n))
		}
	}
	return problems, twice
}

// eachOf calls fn for every id, 8 at a time, and returns once every call has returned.
func eachOf(ids []string, fn func(id string)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(id)
		}()
	}
	wg.Wait()
}

// historyOf reads an instance's status and history through the dispatcher, asking again
// while it answers 503 (the store did not answer in time), as a client would.
func historyOf(ctx context.Context, c *client.Client, id string) (*api.StatusWithHistory, error) {
	var h *api.StatusWithHistory
	var err error
	fleettest.AskAgain(ctx, func() bool {
		h, err = c.History(ctx, id)
		var apiErr *client.APIError
		return errors.As(err, &apiErr) && apiErr.Code == api.CodeUnavailable
	})
	return h, err
}
