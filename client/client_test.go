package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

func TestStartSendsRequestTokenAndTrace(t *testing.T) {
	var got api.StartRequest
	var auth, traceparent string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/instances" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		auth, traceparent = r.Header.Get("Authorization"), r.Header.Get("traceparent")
		got = api.StartRequest{}
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(api.Status{InstanceID: got.InstanceID, Name: got.Name, Status: history.StatusPending})
	}))
	defer srv.Close()
	c := New(srv.URL+"/", WithToken("tok"))
	st, err := c.Start(context.Background(), "Hello", map[string]int{"n": 1}, WithInstanceID("x-1"))
	if err != nil {
		t.Fatal(err)
	}
	if st.InstanceID != "x-1" || got.Name != "Hello" || string(got.Input) != `{"n":1}` || auth != "Bearer tok" {
		t.Fatalf("status %+v, request %+v, auth %q", st, got, auth)
	}
	// The caller's trace continues in the dispatcher: the W3C header carries it.
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	if _, err := c.Start(ctx, "Hello", nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || got.Input != nil {
		t.Fatalf("traceparent %q, input %s", traceparent, got.Input)
	}
	if _, err := c.Start(context.Background(), "Hello", json.RawMessage(`{bad`)); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("invalid raw input: %v", err)
	}
}

func TestErrorAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/instances/ghost":
			w.WriteHeader(404)
			_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: `no instance "ghost"`, Code: api.CodeNotFound})
		case "/v1/instances/a%2Fb", "/v1/instances/a/b":
			t.Errorf("raw path %q: the id was not escaped as one segment", r.URL.RawPath)
		default:
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "Bad Gateway from a proxy\nmore")
		}
	}))
	defer srv.Close()
	c := New(srv.URL)
	_, err := c.Status(context.Background(), "ghost")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != api.CodeNotFound || !IsNotFound(err) {
		t.Fatalf("err = %#v", err)
	}
	err = c.Purge(context.Background(), "other")
	if !errors.As(err, &ae) || ae.StatusCode != 502 || ae.ErrorBody.Error != "Bad Gateway from a proxy" {
		t.Fatalf("non-JSON error: %#v", err)
	}
	srv.Close()
	if _, err := c.Workers(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot reach the dispatcher") {
		t.Fatalf("dispatcher down: %v", err)
	}
}

func TestWaitAsksAgainUntilItsTimeout(t *testing.T) {
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		polls.Add(1)
		d, err := time.ParseDuration(r.URL.Query().Get("timeout"))
		if err != nil || d > 50*time.Millisecond {
			t.Errorf("poll timeout %q exceeds the client's max poll", r.URL.Query().Get("timeout"))
		}
		time.Sleep(d)
		w.WriteHeader(http.StatusRequestTimeout)
		_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: "still running", Code: api.CodeTimeout, Status: &api.Status{InstanceID: "i", Status: history.StatusRunning}})
	}))
	defer srv.Close()
	c := New(srv.URL, WithMaxPoll(50*time.Millisecond))
	var seen int
	st, err := c.Wait(context.Background(), "i", 180*time.Millisecond, func(*api.Status) { seen++ })
	if !errors.Is(err, ErrWaitTimeout) || st == nil || st.Status != history.StatusRunning {
		t.Fatalf("Wait = %+v, %v", st, err)
	}
	if n := polls.Load(); n < 3 || seen != int(n) {
		t.Fatalf("%d polls, %d progress reports; want >= 3 and one per poll", n, seen)
	}
}

func TestWaitReturnsEndedStatus(t *testing.T) {
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) < 3 {
			w.WriteHeader(http.StatusRequestTimeout)
			_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: "still running", Code: api.CodeTimeout})
			return
		}
		_ = json.NewEncoder(w).Encode(api.Status{InstanceID: "i", Status: history.StatusCompleted, Output: json.RawMessage(`42`)})
	}))
	defer srv.Close()
	st, err := New(srv.URL).Wait(context.Background(), "i", time.Minute)
	if err != nil || st.Status != history.StatusCompleted || string(st.Output) != "42" || polls.Load() != 3 {
		t.Fatalf("Wait = %+v, %v after %d polls", st, err, polls.Load())
	}
}

func TestRaiseSendsDataAsIs(t *testing.T) {
	var body, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body, path = string(b), r.URL.EscapedPath()
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	if err := New(srv.URL).Raise(context.Background(), "dev:42", "Download Ack", json.RawMessage(`true`)); err != nil {
		t.Fatal(err)
	}
	if body != "true" || path != "/v1/instances/dev:42/events/Download%20Ack" {
		t.Fatalf("body %q path %q", body, path)
	}
}
