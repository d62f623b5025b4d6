package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

func TestPurgeInstancesSendsTheFilter(t *testing.T) {
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete || r.URL.Path != "/v1/instances" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		got = r.URL.Query()
		if got.Get("status") == "" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: "name at least one status or a created window", Code: api.CodeInvalidArgument})
			return
		}
		_ = json.NewEncoder(w).Encode(api.PurgeResponse{Purged: 7})
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := New(srv.URL)
	to := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	n, err := c.PurgeInstances(ctx, PurgeFilter{
		Statuses: []history.Status{history.StatusCompleted, history.StatusFailed}, Name: "Hello", CreatedTo: to,
	})
	if err != nil || n != 7 {
		t.Fatalf("PurgeInstances = %d, %v", n, err)
	}
	want := url.Values{"status": {"Completed", "Failed"}, "name": {"Hello"}, "createdTo": {"2026-11-30T12:00:00Z"}}
	if got.Encode() != want.Encode() {
		t.Fatalf("query %q, want %q", got.Encode(), want.Encode())
	}

	n, err = c.PurgeInstances(ctx, PurgeFilter{CreatedFrom: to})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || ae.Code != api.CodeInvalidArgument || n != 0 {
		t.Fatalf("refused purge = %d, %v", n, err)
	}
	if got.Get("createdFrom") != "2026-11-30T12:00:00Z" || got.Has("status") || got.Has("name") || got.Has("createdTo") {
		t.Fatalf("query %q", got.Encode())
	}
}
