package startup

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWithProfilingServesProfilesBesideTheHandler(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("inner " + r.URL.Path)) })
	srv := httptest.NewServer(WithProfiling(inner))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	if code, body := get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/: %d %.80q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || body != "inner /metrics" {
		t.Fatalf("/metrics: %d %q, want the inner handler's answer", code, body)
	}
}
