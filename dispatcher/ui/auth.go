package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
)

// Cookie names. Both are HttpOnly and SameSite=Strict, scoped to the dashboard's path.
const (
	sessionCookie = "warren_session"
	csrfCookie    = "warren_csrf"
)

// sessionValue is what the session cookie holds: a MAC of a fixed text under the token, so
// the cookie proves the token without carrying it, and stays valid across restarts of the
// dispatcher until the token changes.
func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("warren dashboard session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// requireSession lets a request through when no token is configured, when it carries the
// session cookie, or when it is for the login form or the static files. Any other page
// answers with the login form (401), an action with 401.
func (d *Dashboard) requireSession(next http.Handler) http.Handler {
	if d.cfg.Token == "" {
		return next
	}
	want := sessionValue(d.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ui/login" || strings.HasPrefix(r.URL.Path, "/ui/static/") {
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(sessionCookie); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(want)) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			d.renderError(w, r, http.StatusUnauthorized, "Log in first: the dashboard needs the dispatcher's token.")
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		d.renderLogin(w, r, r.URL.RequestURI(), "")
	})
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	d.renderLogin(w, r, r.URL.Query().Get("next"), "")
}

// login checks the token and sets the session cookie, then goes back to the page asked for.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.PostFormValue("next"))
	if d.cfg.Token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	got := r.PostFormValue("token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(d.cfg.Token)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		d.renderLogin(w, r, next, "That is not the dispatcher's token.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sessionValue(d.cfg.Token), Path: Prefix,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// localPath keeps a "next" address inside the dashboard, so the login form cannot send a
// user elsewhere.
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, Prefix) || strings.HasPrefix(next, "//") {
		return "/ui/instances"
	}
	return u.RequestURI()
}

// maxFormBytes caps a form's body (event data included); the API caps it again.
const maxFormBytes = 4 << 20

// csrf guards every POST twice: the browser's own cross-origin signals
// (http.CrossOriginProtection: Sec-Fetch-Site, Origin), and a token in each form that only
// a page of the dashboard can know — a MAC, under a key of this process, of a random value
// in a cookie of the browser's.
type csrf struct {
	key    []byte
	origin *http.CrossOriginProtection
}

func newCSRF() *csrf {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return &csrf{key: key, origin: http.NewCrossOriginProtection()}
}

// formToken is the token the forms of a page carry for the browser holding cookie.
func (c *csrf) formToken(cookie string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(cookie))
	return hex.EncodeToString(m.Sum(nil))
}

// ensure returns the form token for r's browser, setting its csrf cookie first if it has
// none.
func (c *csrf) ensure(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) == 64 {
		return c.formToken(ck.Value)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: Prefix, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: v}) // later reads in this request see it
	return c.formToken(v)
}

// protect refuses a POST that comes from another origin or does not carry the form token
// of its browser's cookie. The login form is only checked for its origin: it has no
// session to abuse.
func (c *csrf) protect(next http.Handler) http.Handler {
	check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		if r.Method == http.MethodPost && r.URL.Path != "/ui/login" {
			ck, err := r.Cookie(csrfCookie)
			if err != nil || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(c.formToken(ck.Value))) != 1 {
				http.Error(w, "ui: this form has expired or did not come from the dashboard; reload the page and try again", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
	return c.origin.Handler(check)
}
