package dispatcher

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/mongo/address"
	"go.mongodb.org/mongo-driver/mongo/description"
	"go.mongodb.org/mongo-driver/x/mongo/driver/topology"

	"github.com/warrenhq/warren/api"
)

// While the store is out of reach, every request that needs it is answered 503 with an
// error that says so in words, not with the driver's topology (which names hosts), and
// never 500.
func TestStoreOutOfReachIsA503ThatSaysSo(t *testing.T) {
	r := newRig(t, Config{})
	down := topology.ServerSelectionError{Wrapped: topology.ErrServerSelectionTimeout,
		Desc: description.Topology{Servers: []description.Server{{Addr: address.Address("mongo-0.internal:27017")}}}}
	r.store.failWith = fmt.Errorf("get instance %q: %w", "x", down)
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/v1/instances/x", ""},
		{"GET", "/v1/instances/x?history=true", ""},
		{"GET", "/v1/instances/x/wait?timeout=1s", ""},
		{"GET", "/v1/instances", ""},
		{"GET", "/v1/workers", ""},
		{"POST", "/v1/instances", `{"name":"Hello","instanceId":"y"}`},
		{"POST", "/v1/instances/x/terminate", ""},
		{"DELETE", "/v1/instances/x", ""},
	} {
		a := r.do(req.method, req.path, req.body)
		e := a.errorBody(t)
		if a.code != http.StatusServiceUnavailable || e.Code != api.CodeUnavailable {
			t.Errorf("%s %s: %d %s", req.method, req.path, a.code, a.body)
			continue
		}
		if !strings.Contains(e.Error, "the store (MongoDB) is not answering") || strings.Contains(e.Error, "mongo-0") {
			t.Errorf("%s %s: error %q", req.method, req.path, e.Error)
		}
	}

	// An unavailable store that reaches writeError unclassified is still a 503.
	rec := httptest.NewRecorder()
	r.d.writeError(rec, httptest.NewRequest("GET", "/v1/instances/x", nil), fmt.Errorf("somewhere: %w", down))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("writeError of an unavailable store: %d %s", rec.Code, rec.Body)
	}
}
