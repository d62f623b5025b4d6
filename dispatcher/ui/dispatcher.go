package ui

import (
	"bytes"
	"io"
	"net/http"

	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/dispatcher"
)

// ForDispatcher is the dashboard of a dispatcher, for [dispatcher.Config.Dashboard]. It
// reads and acts through the API's own routes, called in process by a [client.Client]
// (no socket, no bearer token: the dashboard has its own login), so it answers exactly as
// the API does.
func ForDispatcher(src dispatcher.DashboardSource) http.Handler {
	c := client.New("http://dispatcher.in-process", client.WithHTTPClient(&http.Client{Transport: inProcess{src.API}}))
	return New(Config{API: c, Count: src.Count, Depths: src.Depths, Token: src.Config.Token,
		JaegerURL: src.Config.JaegerUI, Timeout: src.Config.OpTimeout, Logger: src.Config.Logger})
}

// inProcess is an http.RoundTripper that serves requests with a handler of this process.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context()) // the mux writes its match into the request
	r.RequestURI = r.URL.RequestURI()
	r.RemoteAddr = "in-process"
	if r.Body == nil {
		r.Body = http.NoBody
	}
	w := &bufferedResponse{header: http.Header{}}
	t.h.ServeHTTP(w, r)
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return &http.Response{
		Status: http.StatusText(w.code), StatusCode: w.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Request: req,
	}, nil
}

// bufferedResponse keeps what a handler writes.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}
