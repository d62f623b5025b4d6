package dispatcher

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

// PurgeInstances deletes the matching ended instances of the double, as the real stores do.
func (s *memStore) PurgeInstances(ctx context.Context, f history.PurgeFilter) (int, error) {
	statuses, err := f.PurgeStatuses()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return 0, s.failWith
	}
	n := 0
	for id, inst := range s.instances {
		switch {
		case f.Limit > 0 && n == f.Limit:
		case !slices.Contains(statuses, inst.Status), f.Name != "" && inst.Name != f.Name:
		case !f.CreatedFrom.IsZero() && inst.CreatedAt.Before(f.CreatedFrom):
		case !f.CreatedTo.IsZero() && !inst.CreatedAt.Before(f.CreatedTo):
		default:
			delete(s.instances, id)
			delete(s.episodes, id)
			s.writes++
			n++
		}
	}
	return n, nil
}

// seedCreated stores an instance of name created at the given time.
func seedCreated(s *memStore, id, name string, st history.Status, created time.Time) {
	s.instances[id] = history.Instance{InstanceID: id, Name: name, ExecutionID: "e-" + id, Status: st, CreatedAt: created, LastUpdatedAt: created}
	s.episodes[id] = []history.Episode{{InstanceID: id, ExecutionID: "e-" + id, Number: 1}}
}

// purged decodes the answer to a bulk purge.
func (a answer) purged(t *testing.T) int {
	t.Helper()
	var pr api.PurgeResponse
	if err := json.Unmarshal(a.body, &pr); err != nil || a.code != http.StatusOK {
		t.Fatalf("answer %d is not a purge count: %s (%v)", a.code, a.body, err)
	}
	return pr.Purged
}

// left lists the instances the store still holds, each with its history.
func (s *memStore) left(t *testing.T) []string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.instances {
		if len(s.episodes[id]) != 1 {
			t.Errorf("%s lost its history", id)
		}
		ids = append(ids, id)
	}
	for id := range s.episodes {
		if _, ok := s.instances[id]; !ok {
			t.Errorf("purged %s kept its history", id)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestPurgeMany(t *testing.T) {
	r := newRig(t, Config{})
	now := time.Now().UTC()
	old := now.Add(-2 * time.Hour)
	seedCreated(r.store, "old-done", "Hello", history.StatusCompleted, old)
	seedCreated(r.store, "old-failed", "Hello", history.StatusFailed, old)
	seedCreated(r.store, "old-other", "Other", history.StatusTerminated, old)
	seedCreated(r.store, "old-running", "Hello", history.StatusRunning, old)
	seedCreated(r.store, "new-done", "Hello", history.StatusCompleted, now)
	createdTo := url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339))

	steps := []struct {
		query string
		want  int
		left  []string
	}{
		{"status=Completed&status=failed&createdTo=" + createdTo, 2, []string{"new-done", "old-other", "old-running"}},
		{"status=Completed,Terminated&name=Hello", 1, []string{"old-other", "old-running"}},
		{"createdFrom=" + url.QueryEscape(old.Format(time.RFC3339Nano)) + "&name=Other", 1, []string{"old-running"}},
		{"status=Completed", 0, []string{"old-running"}},
	}
	for _, s := range steps {
		if n := r.do("DELETE", "/v1/instances?"+s.query, "").purged(t); n != s.want {
			t.Errorf("?%s purged %d, want %d", s.query, n, s.want)
		}
		if got := r.store.left(t); !slices.Equal(got, s.left) {
			t.Fatalf("?%s left %q, want %q", s.query, got, s.left)
		}
	}
}

// A bulk purge goes through the store a batch at a time until a batch comes back short.
func TestPurgeManyInBatches(t *testing.T) {
	r := newRig(t, Config{})
	const total = 2*purgeBatch + 3
	for i := range total {
		seedCreated(r.store, fmt.Sprintf("done-%d", i), "Hello", history.StatusCompleted, time.Now())
	}
	seedCreated(r.store, "live", "Hello", history.StatusRunning, time.Now())
	if n := r.do("DELETE", "/v1/instances?status=Completed", "").purged(t); n != total {
		t.Fatalf("purged %d of %d", n, total)
	}
	if got := r.store.left(t); !slices.Equal(got, []string{"live"}) {
		t.Fatalf("left %q", got)
	}
}

// A bulk purge the dispatcher cannot serve as asked is refused with 400 and deletes nothing;
// a store outage is 503.
func TestPurgeManyRefusals(t *testing.T) {
	cases := []struct{ query, want string }{
		{"", "name at least one status or a created window"},
		{"name=Hello", "name at least one status or a created window"},
		{"status=Running", "status Running has not ended"},
		{"status=Completed&status=Pending", "status Pending has not ended"},
		{"status=ContinuedAsNew", "status ContinuedAsNew has not ended"},
		{"status=Done", `unknown status "Done"`},
		{"status=Completed&createdTo=yesterday", `createdTo "yesterday" is not an RFC 3339 time`},
		{"createdFrom=2026-01-02", `createdFrom "2026-01-02" is not an RFC 3339 time`},
		{"createdFrom=2026-01-02T00:00:00Z&createdTo=2026-01-01T00:00:00Z", "created range"},
		{"stauts=Completed", `unknown parameter "stauts"`},
		{"status=Completed&name=%00", "invalid name"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := newRig(t, Config{})
			seedCreated(r.store, "done", "Hello", history.StatusCompleted, time.Now().Add(-time.Hour))
			seedCreated(r.store, "live", "Hello", history.StatusRunning, time.Now().Add(-time.Hour))
			a := r.do("DELETE", "/v1/instances?"+c.query, "")
			e := a.errorBody(t)
			if a.code != http.StatusBadRequest || e.Code != api.CodeInvalidArgument || !strings.Contains(e.Error, c.want) {
				t.Errorf("%d %s; want 400 saying %q", a.code, a.body, c.want)
			}
			if got := r.store.left(t); !slices.Equal(got, []string{"done", "live"}) {
				t.Errorf("a refused purge left %q", got)
			}
		})
	}

	r := newRig(t, Config{})
	seedCreated(r.store, "done", "Hello", history.StatusCompleted, time.Now())
	r.store.failWith = errDown
	a := r.do("DELETE", "/v1/instances?status=Completed", "")
	if a.code != http.StatusServiceUnavailable || a.errorBody(t).Code != api.CodeUnavailable {
		t.Fatalf("store down: %d %s", a.code, a.body)
	}
	r.store.failWith = nil
	if got := r.store.left(t); !slices.Equal(got, []string{"done"}) {
		t.Fatalf("a failed purge left %q", got)
	}
}
