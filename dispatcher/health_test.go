package dispatcher

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warrenhq/warren/queues"
)

// While the binary waits for its services, /healthz is 200, /readyz 503 with the reason,
// and the API 503 unavailable, so that clients retry.
func TestStartingSaysWhy(t *testing.T) {
	const why = "waiting for the broker: it accepts connections but does not complete the AMQP handshake"
	h := Starting(func() string { return why })
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", http.StatusOK, `"ok"`},
		{"GET", "/readyz", http.StatusServiceUnavailable, why},
		{"POST", "/v1/instances", http.StatusServiceUnavailable, `"unavailable"`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.path, rec.Code, rec.Body, tc.code, tc.body)
		}
	}
}

// A failed broker check says how far the last dial got, and never the error's text.
func TestNotAnsweringNamesAWedgedBroker(t *testing.T) {
	wedged := fmt.Errorf("queues: not connected (last attempt: %w: read tcp 10.0.0.1:5672: i/o timeout)", queues.ErrNoHandshake)
	if got := notAnswering(wedged); !strings.Contains(got, "does not complete the AMQP handshake") || strings.Contains(got, "10.0.0.1") {
		t.Fatalf("notAnswering = %q", got)
	}
	if got := notAnswering(fmt.Errorf("x: %w", queues.ErrUnreachable)); got != "not answering: it cannot be reached" {
		t.Fatalf("notAnswering = %q", got)
	}
}
