package dispatcher

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/warrenhq/warren/history"
)

// seedTree stores root with children root:1 (and its child root:1:1) and root:2, in the
// statuses given (root first), and an unrelated instance "other".
func seedTree(s *memStore, root string, statuses ...history.Status) {
	parents := map[string]string{root: "", root + ":1": root, root + ":1:1": root + ":1", root + ":2": root}
	for i, id := range []string{root, root + ":1", root + ":1:1", root + ":2"} {
		seed(s, id, statuses[i])
		inst := s.instances[id]
		inst.ParentInstanceID = parents[id]
		s.instances[id] = inst
	}
	seed(s, "other", history.StatusCompleted)
}

func (s *memStore) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.instances {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func TestPurgeRecursive(t *testing.T) {
	r := newRig(t, Config{})
	seedTree(r.store, "t", history.StatusCompleted, history.StatusFailed, history.StatusTerminated, history.StatusCompleted)
	if n := r.do("DELETE", "/v1/instances/t?recursive=true", "").purged(t); n != 4 {
		t.Fatalf("purged %d, want the root and its 3 sub-orchestrations", n)
	}
	if got := r.store.ids(); !slices.Equal(got, []string{"other"}) {
		t.Fatalf("left %v, want only the unrelated instance", got)
	}
}

func TestPurgeRecursiveRefusesATreeThatHasNotEnded(t *testing.T) {
	r := newRig(t, Config{})
	seedTree(r.store, "t", history.StatusTerminated, history.StatusCompleted, history.StatusRunning, history.StatusCompleted)
	before := r.store.ids()
	a := r.do("DELETE", "/v1/instances/t?recursive=true", "")
	if a.code != http.StatusConflict || !strings.Contains(a.errorBody(t).Error, `instance "t:1:1" (a sub-orchestration of "t") is Running`) ||
		!strings.Contains(a.errorBody(t).Error, "nothing was purged") {
		t.Fatalf("%d %s", a.code, a.body)
	}
	if got := r.store.ids(); !slices.Equal(got, before) {
		t.Fatalf("a refused purge deleted something: %v, was %v", got, before)
	}
	for path, code := range map[string]int{
		"/v1/instances/t?recursive=maybe":     http.StatusBadRequest,
		"/v1/instances/ghost?recursive=true":  http.StatusNotFound,
		"/v1/instances/t:1:1?recursive=false": http.StatusConflict,
	} {
		if a := r.do("DELETE", path, ""); a.code != code {
			t.Errorf("DELETE %s: %d %s, want %d", path, a.code, a.body, code)
		}
	}
}
