package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/dispatcher/ui"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/memstore"
	"github.com/warrenhq/warren/internal/membroker"
	"github.com/warrenhq/warren/queues"
)

// rig is a dispatcher over the in-memory store and broker, served by httptest, and a
// browser-like client of it (cookies kept, redirects followed).
type rig struct {
	t      *testing.T
	srv    *httptest.Server
	store  *memstore.Store
	broker *membroker.Broker
	web    *http.Client
}

const hub = "uitest"

func newRig(t *testing.T, cfg dispatcher.Config) *rig {
	t.Helper()
	return newRigOn(t, cfg, memstore.New(memstore.Options{}))
}

// newRigOn is newRig over a store of the test's.
func newRigOn(t *testing.T, cfg dispatcher.Config, store *memstore.Store) *rig {
	t.Helper()
	broker := membroker.New(membroker.Options{Hub: hub, Partitions: 4})
	cfg.Hub, cfg.Partitions, cfg.Dashboard = hub, 4, ui.ForDispatcher
	d, err := dispatcher.New(cfg, store, broker.Connect("dispatcher"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &rig{t: t, srv: srv, store: store, broker: broker, web: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// page is one answer: its status and body.
type page struct {
	status int
	body   string
	url    string
}

func (r *rig) get(path string) page {
	r.t.Helper()
	resp, err := r.web.Get(r.srv.URL + path)
	if err != nil {
		r.t.Fatal(err)
	}
	return readPage(r.t, resp)
}

func (r *rig) post(path string, form url.Values) page {
	r.t.Helper()
	resp, err := r.web.PostForm(r.srv.URL+path, form)
	if err != nil {
		r.t.Fatal(err)
	}
	return readPage(r.t, resp)
}

func readPage(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, body: string(b), url: resp.Request.URL.Path}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

// csrf is the form token of a page.
func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf field in the page:\n%s", p.body)
	}
	return m[1]
}

func (p page) mustContain(t *testing.T, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(p.body, s) {
			t.Errorf("page %s (HTTP %d) lacks %q:\n%s", p.url, p.status, s, p.body)
		}
	}
}

func (p page) mustNotContain(t *testing.T, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(p.body, s) {
			t.Errorf("page %s (HTTP %d) holds %q", p.url, p.status, s)
		}
	}
}

// seed creates an instance in status st whose first execution started with input, with
// events after its ExecutionStarted as its history.
func (r *rig) seed(id, name string, st history.Status, parent string, events ...history.Event) *history.Instance {
	r.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	inst := &history.Instance{InstanceID: id, Name: name, ExecutionID: "e1-" + id, Status: st, ParentInstanceID: parent,
		CreatedAt: now, LastUpdatedAt: now, LastEpisode: 1, Executions: 1, Input: []byte(`{"devices":2}`)}
	if err := r.store.CreateInstance(ctx, inst); err != nil {
		r.t.Fatal(err)
	}
	evs := append([]history.Event{{Version: 1, Kind: history.ExecutionStarted, Timestamp: now, Name: name,
		ExecutionID: inst.ExecutionID, Input: []byte(`{"devices":2}`)}}, events...)
	ep := &history.Episode{InstanceID: id, ExecutionID: inst.ExecutionID, Number: 1, Events: evs, CommittedAt: now}
	for _, err := range r.store.CommitEpisodes(ctx, []*history.Episode{ep}) {
		if err != nil {
			r.t.Fatal(err)
		}
	}
	return inst
}

// published is what the dispatcher has sent to the hub's control queues.
func (r *rig) published() []queues.Message {
	var out []queues.Message
	for p := range 4 {
		out = append(out, r.broker.Pending(queues.ControlQueue(hub, p))...)
	}
	return out
}
