package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/warrenhq/warren/dispatcher"
	"github.com/warrenhq/warren/history"
)

func TestWithATokenNothingIsReachableWithoutLoggingIn(t *testing.T) {
	r := newRig(t, dispatcher.Config{Token: "s3cret"})
	r.seed("run-1", "HelloSequence", history.StatusRunning, "")
	for _, path := range []string{"/ui", "/ui/", "/ui/instances", "/ui/instances/run-1", "/ui/workers", "/ui/nothing"} {
		p := r.get(path)
		if p.status != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d without a session, want 401", path, p.status)
		}
		p.mustContain(t, `name="token"`)
		p.mustNotContain(t, `id="instance-id"`, "HelloSequence", "data-instance")
	}
	if p := r.get("/ui/static/app.js"); p.status != http.StatusOK {
		t.Errorf("the script: HTTP %d", p.status)
	}
	// An action without a session: refused, nothing sent.
	p := r.post("/ui/instances/run-1/terminate", url.Values{"confirmed": {"yes"}})
	if p.status != http.StatusUnauthorized && p.status != http.StatusForbidden {
		t.Errorf("terminate without a session: HTTP %d", p.status)
	}
	if n := len(r.published()); n != 0 {
		t.Errorf("%d messages sent without a session", n)
	}
	// The API still wants its bearer token.
	resp, err := http.Get(r.srv.URL + "/v1/instances")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/v1/instances without the token: HTTP %d", resp.StatusCode)
	}

	p = r.post("/ui/login", url.Values{"token": {"wrong"}, "next": {"/ui/instances/run-1"}})
	if p.status != http.StatusUnauthorized {
		t.Errorf("a wrong token: HTTP %d", p.status)
	}
	p.mustContain(t, `id="login-error"`)

	p = r.post("/ui/login", url.Values{"token": {"s3cret"}, "next": {"/ui/instances/run-1"}})
	if p.status != http.StatusOK || p.url != "/ui/instances/run-1" {
		t.Fatalf("after logging in: HTTP %d at %s", p.status, p.url)
	}
	p.mustContain(t, `<h1 id="instance-id">run-1</h1>`, "Log out")
	u, _ := url.Parse(r.srv.URL + "/ui/")
	var session *http.Cookie
	for _, c := range r.web.Jar.Cookies(u) {
		if c.Name == "warren_session" {
			session = c
		}
		if strings.Contains(c.Value, "s3cret") {
			t.Errorf("cookie %s holds the token", c.Name)
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}

	// The cookie's attributes: HttpOnly, SameSite=Strict, scoped to /ui/.
	resp, err = http.PostForm(r.srv.URL+"/ui/login", url.Values{"token": {"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var set string
	for _, h := range resp.Request.Response.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "warren_session=") {
			set = h
		}
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/ui/"} {
		if !strings.Contains(set, attr) {
			t.Errorf("session cookie %q lacks %s", set, attr)
		}
	}

	// Logging out ends the session.
	csrf := r.get("/ui/instances").csrf(t)
	r.post("/ui/logout", url.Values{"csrf": {csrf}})
	if p := r.get("/ui/instances"); p.status != http.StatusUnauthorized {
		t.Errorf("after logging out: HTTP %d", p.status)
	}
}

func TestLoginSendsOnlyToDashboardPages(t *testing.T) {
	r := newRig(t, dispatcher.Config{Token: "t"})
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/v1/instances", "javascript:alert(1)"} {
		p := r.post("/ui/login", url.Values{"token": {"t"}, "next": {next}})
		if p.url != "/ui/instances" {
			t.Errorf("next=%q went to %s", next, p.url)
		}
	}
}

func TestActionsNeedTheFormTokenAndTheSameOrigin(t *testing.T) {
	r := newRig(t, dispatcher.Config{})
	r.seed("run-1", "HelloSequence", history.StatusRunning, "")
	csrf := r.get("/ui/instances/run-1").csrf(t)
	confirmed := url.Values{"confirmed": {"yes"}, "reason": {"x"}}

	if p := r.post("/ui/instances/run-1/terminate", confirmed); p.status != http.StatusForbidden {
		t.Errorf("no form token: HTTP %d", p.status)
	}
	bad := url.Values{"confirmed": {"yes"}, "csrf": {strings.Repeat("0", 64)}}
	if p := r.post("/ui/instances/run-1/terminate", bad); p.status != http.StatusForbidden {
		t.Errorf("a wrong form token: HTTP %d", p.status)
	}
	// The right token from another site.
	form := url.Values{"confirmed": {"yes"}, "csrf": {csrf}}
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/ui/instances/run-1/terminate", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := r.web.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site: HTTP %d", resp.StatusCode)
	}
	if n := len(r.published()); n != 0 {
		t.Fatalf("%d messages sent by forged actions", n)
	}
	if p := r.post("/ui/instances/run-1/terminate", form); p.status != http.StatusOK {
		t.Errorf("the genuine form: HTTP %d\n%s", p.status, p.body)
	}
	if n := len(r.published()); n != 1 {
		t.Errorf("%d messages sent by the genuine form, want 1", n)
	}
}
