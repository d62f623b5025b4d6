package startup

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warrenhq/warren/queues"
)

// A failed broker check says how far the last dial got, and never the error's text.
func TestNotAnsweringNamesAWedgedBroker(t *testing.T) {
	wedged := fmt.Errorf("queues: not connected (last attempt: %w: read tcp 10.0.0.1:5672: i/o timeout)", queues.ErrNoHandshake)
	if got := NotAnswering(wedged); !strings.Contains(got, "does not complete the AMQP handshake") || strings.Contains(got, "10.0.0.1") {
		t.Fatalf("NotAnswering = %q", got)
	}
	if got := NotAnswering(fmt.Errorf("x: %w", queues.ErrUnreachable)); got != "not answering: it cannot be reached" {
		t.Fatalf("NotAnswering = %q", got)
	}
}

// Answer is 200 when every check passes, else 503 with a fixed phrase for each failed one
// and no error text.
func TestReadinessAnswersWithFixedPhrases(t *testing.T) {
	var rd Readiness
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return fmt.Errorf("dial 10.0.0.1:27017: %w", queues.ErrUnreachable) }
	for _, tc := range []struct {
		name     string
		store    func(context.Context) error
		problem  string
		wantCode int
		want     map[string]string
	}{
		{"all well", ok, "", http.StatusOK, map[string]string{"store": "ok", "heartbeat": "ok"}},
		{"store down", down, "", http.StatusServiceUnavailable,
			map[string]string{"store": "not answering: it cannot be reached", "heartbeat": "ok"}},
		{"stale heartbeat", ok, "draining", http.StatusServiceUnavailable, map[string]string{"store": "ok", "heartbeat": "draining"}},
	} {
		rec := httptest.NewRecorder()
		rd.Answer(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil), slog.New(slog.DiscardHandler),
			map[string]func(context.Context) error{"store": tc.store}, map[string]func() string{"heartbeat": func() string { return tc.problem }})
		var got struct {
			Status string
			Checks map[string]string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, rec.Body)
		}
		if rec.Code != tc.wantCode || !maps.Equal(got.Checks, tc.want) || strings.Contains(rec.Body.String(), "10.0.0.1") {
			t.Errorf("%s: %d %s, want %d with checks %v", tc.name, rec.Code, rec.Body, tc.wantCode, tc.want)
		}
	}
}
