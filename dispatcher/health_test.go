package dispatcher

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
