package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
)

// purgeStub answers DELETE /v1/instances with 40 plus the number of statuses asked for,
// and DELETE /v1/instances/done with 204 (with ?recursive=true, 3 purged), and remembers
// each query.
type purgeStub struct{ queries []url.Values }

func (s *purgeStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.queries = append(s.queries, q)
	if r.Method == http.MethodDelete && r.URL.Path == "/v1/instances/done" {
		if q.Get("recursive") == "true" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(api.PurgeResponse{Purged: 3})
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodDelete || r.URL.Path != "/v1/instances" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if q.Get("status") == "Running" {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: "status Running has not ended and cannot be purged", Code: api.CodeInvalidArgument})
		return
	}
	_ = json.NewEncoder(w).Encode(api.PurgeResponse{Purged: 40 + len(q["status"])})
}

func TestPurgeByFilter(t *testing.T) {
	s := &purgeStub{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	run1 := func(args ...string) result {
		var out, errb bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		code := run(ctx, append([]string{"--dispatcher", srv.URL}, args...), env{stdout: &out, stderr: &errb})
		return result{code, out.String(), errb.String()}
	}
	cases := []struct {
		args  []string
		code  int
		out   string // in stdout
		err   string // in stderr
		query string // the query sent, createdTo aside; "" when nothing may be sent
		age   time.Duration
	}{
		{[]string{"purge", "--status", "Completed", "--status", "Failed,Terminated", "--name", "Hello", "--older-than", "7d"}, 0, "Purged 43 instance(s)", "",
			"name=Hello&status=Completed&status=Failed&status=Terminated", 7 * 24 * time.Hour},
		{[]string{"purge", "--older-than", "90m", "--json"}, 0, `"purged": 40`, "", "", 90 * time.Minute},
		{[]string{"purge", "--status", "Failed"}, 0, "Purged 41", "", "status=Failed", 0},
		{[]string{"purge", "--older-than", "1.5d"}, 0, "Purged 40", "", "", 36 * time.Hour},
		{[]string{"purge", "--status", "Running"}, 1, "", "status Running has not ended", "status=Running", 0},
		{[]string{"purge"}, 2, "", "select instances with --status and/or --older-than", "", 0},
		{[]string{"purge", "--name", "Hello"}, 2, "", "select instances with --status and/or --older-than", "", 0},
		{[]string{"purge", "done", "--status", "Completed"}, 2, "", "not both", "", 0},
		{[]string{"purge", "a", "b"}, 2, "", "takes 1 argument", "", 0},
		{[]string{"purge", "--status", "Failed", "--older-than", "a week"}, 2, "", `"a week" is not an age`, "", 0},
		{[]string{"purge", "--status", "Failed", "--older-than", "-1d"}, 2, "", "is not an age", "", 0},
		{[]string{"purge", "--status", "Failed", "--timeout", "soon"}, 2, "", `--timeout "soon"`, "", 0},
		{[]string{"purge", "done", "--timeout", "1m"}, 0, "Purged done", "", "", 0},
		{[]string{"purge", "done", "--recursive"}, 0, "Purged done and its sub-orchestrations: 3 instance(s)", "", "recursive=true", 0},
		{[]string{"purge", "done", "--recursive", "--json"}, 0, `"purged": 3`, "", "recursive=true", 0},
		{[]string{"purge", "--status", "Failed", "--recursive"}, 2, "", "give an instance id", "", 0},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			s.queries = nil
			before := time.Now()
			r := run1(c.args...)
			after := time.Now()
			if r.code != c.code || !strings.Contains(r.stdout, c.out) || !strings.Contains(r.stderr, c.err) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, c.code, r.stdout, r.stderr)
			}
			sent := c.code != exitUsage
			if len(s.queries) != map[bool]int{true: 1, false: 0}[sent] {
				t.Fatalf("%d requests sent", len(s.queries))
			}
			if !sent {
				return
			}
			q := s.queries[0]
			to := q.Get("createdTo")
			q.Del("createdTo")
			if q.Encode() != c.query {
				t.Errorf("query %q, want %q", q.Encode(), c.query)
			}
			if c.age == 0 {
				if to != "" {
					t.Errorf("createdTo %q sent without --older-than", to)
				}
				return
			}
			at, err := time.Parse(time.RFC3339Nano, to)
			if err != nil || at.Before(before.Add(-c.age)) || at.After(after.Add(-c.age)) {
				t.Errorf("createdTo %q, want now less %s (%v)", to, c.age, err)
			}
		})
	}
}
