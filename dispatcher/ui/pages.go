package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// pages holds one template set per page, each the layout plus that page's file.
type pages struct {
	byName map[string]*template.Template
}

func mustParsePages() *pages {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", f))
		p.byName[name] = t
	}
	return p
}

// view is what every page's template gets: the layout's fields and the page's own.
type view struct {
	Title  string
	Nav    string // which tab is current
	CSRF   string // the form token
	Login  bool   // a token is configured: show "log out"
	Page   any
	Status int
}

// render writes page name with data; a template that fails mid-way is logged (the
// status has gone out already).
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	t, ok := d.pages.byName[name]
	if !ok {
		panic("ui: no page " + name)
	}
	v := view{Title: title, Nav: nav, CSRF: d.csrf.ensure(w, r), Login: d.cfg.Token != "", Page: data, Status: status}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		d.cfg.Logger.Error("ui: rendering a page failed", "page", name, "err", err)
		http.Error(w, "ui: rendering the page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if status != 0 && status != http.StatusOK {
		w.WriteHeader(status)
	}
	_, _ = buf.WriteTo(w)
}

type errorPage struct{ Message string }

func (d *Dashboard) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d.render(w, r, status, "error", http.StatusText(status), "", errorPage{Message: msg})
}

type loginPage struct {
	Next  string
	Error string
}

func (d *Dashboard) renderLogin(w http.ResponseWriter, r *http.Request, next, msg string) {
	d.render(w, r, 0, "login", "Log in", "", loginPage{Next: localPath(next), Error: msg})
}

var funcs = template.FuncMap{
	"time":     fmtTime,
	"ago":      ago,
	"duration": fmtDuration,
	"json":     prettyJSON,
	"lower":    func(v any) string { return strings.ReplaceAll(strings.ToLower(fmt.Sprint(v)), " ", "-") },
	"instance": func(id string) string { return "/ui/instances/" + url.PathEscape(id) },
	"action":   func(id, action string) string { return "/ui/instances/" + url.PathEscape(id) + "/" + action },
	"query":    query,
	"redrive":  func(id string) string { return "/ui/deadletters/" + url.PathEscape(id) + "/redrive" },
	"list":     func(s ...string) []string { return s },
	"title":    func(s string) string { return strings.ToUpper(s[:1]) + s[1:] },
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

// ago says how long ago t was, rounded for reading.
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmtDuration(time.Since(t)) + " ago"
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// prettyJSON indents a JSON value for a <pre>; "" for none. The template escapes it.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// query builds "?k=v&…" from pairs, leaving out empty values.
func query(kv ...string) (template.URL, error) {
	if len(kv)%2 != 0 {
		return "", fmt.Errorf("query: odd number of arguments")
	}
	q := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return "?", nil
	}
	return template.URL("?" + q.Encode()), nil
}
