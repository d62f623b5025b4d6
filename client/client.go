// Package client is the Go client of the dispatcher's HTTP API (package dispatcher): start,
// inspect, signal, wait for and purge orchestration instances, and list the live workers.
//
//	c := client.New("http://127.0.0.1:8080", client.WithToken(os.Getenv("WARREN_TOKEN")))
//	st, err := c.Start(ctx, "ProvisionNewDevices", map[string]int{"devices": 10}, client.WithInstanceID("batch-7"))
//	st, err = c.Wait(ctx, st.InstanceID, 5*time.Minute) // ErrWaitTimeout when it is still running
//
// [Client.Wait] returns [ErrWaitTimeout] when the instance is still running. Errors the
// dispatcher answers with are [*APIError] (errors.As), carrying the HTTP status,
// a code (the [api] Code* constants) and the dispatcher's message.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/tracing"
)

// DefaultURL is the dispatcher's default address.
const DefaultURL = "http://127.0.0.1:8080"

// ErrWaitTimeout is returned (wrapped in an *APIError or alone) when Wait's timeout passed
// before the instance ended.
var ErrWaitTimeout = errors.New("timed out waiting for the instance to end")

// APIError is an error answer of the dispatcher.
type APIError struct {
	StatusCode int
	api.ErrorBody
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d %s)", e.ErrorBody.Error, e.StatusCode, e.Code)
}

// Is makes errors.Is(err, ErrWaitTimeout) hold for a wait that timed out.
func (e *APIError) Is(target error) bool {
	return target == ErrWaitTimeout && e.Code == api.CodeTimeout
}

// IsNotFound reports whether err is the dispatcher saying the instance does not exist.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

// Client talks to one dispatcher. It is safe for concurrent use.
type Client struct {
	base   string
	token  string
	http   *http.Client
	tracer trace.Tracer
	// maxPoll is the longest single wait request; Wait asks again until its own timeout.
	maxPoll time.Duration
}

// Option configures New.
type Option func(*Client)

// WithToken sends the bearer token the dispatcher requires (WARREN_TOKEN).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient replaces http.DefaultClient-like defaults (no overall timeout: waits are
// long polls bounded by their context).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTracer records the client's create_orchestration spans with t (default: the global
// tracer provider's).
func WithTracer(t trace.Tracer) Option { return func(c *Client) { c.tracer = t } }

// WithMaxPoll bounds each long-poll request of Wait (default 30 s).
func WithMaxPoll(d time.Duration) Option { return func(c *Client) { c.maxPoll = d } }

// New returns a client of the dispatcher at baseURL (e.g. http://127.0.0.1:8080).
func New(baseURL string, opts ...Option) *Client {
	if baseURL == "" {
		baseURL = DefaultURL
	}
	c := &Client{
		base:    strings.TrimRight(baseURL, "/"),
		http:    &http.Client{},
		tracer:  otel.Tracer("github.com/warrenhq/warren/client"),
		maxPoll: 30 * time.Second,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// StartOption configures Start.
type StartOption func(*api.StartRequest)

// WithInstanceID starts the instance under id instead of a random one.
func WithInstanceID(id string) StartOption { return func(r *api.StartRequest) { r.InstanceID = id } }

// Start starts orchestrator name with input: a json.RawMessage or []byte is sent as it is
// (it must be JSON), nil as no input, anything else is marshalled.
func (c *Client) Start(ctx context.Context, name string, input any, opts ...StartOption) (*api.Status, error) {
	req := api.StartRequest{Name: name}
	for _, o := range opts {
		o(&req)
	}
	raw, err := marshalInput(input)
	if err != nil {
		return nil, fmt.Errorf("start %s: input: %w", name, err)
	}
	req.Input = raw
	ctx, span := tracing.StartCreateOrchestration(ctx, c.tracer, name, req.InstanceID)
	defer span.End()
	var st api.Status
	if err := c.do(ctx, http.MethodPost, "/v1/instances", nil, req, &st); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	span.SetAttributes(tracing.AttrInstanceID.String(st.InstanceID))
	return &st, nil
}

func marshalInput(v any) (json.RawMessage, error) {
	switch in := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return checkJSON(in)
	case []byte:
		return checkJSON(in)
	default:
		return json.Marshal(v)
	}
}

func checkJSON(b []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, errors.New("not valid JSON")
	}
	return json.RawMessage(b), nil
}

// Status returns the instance's status.
func (c *Client) Status(ctx context.Context, id string) (*api.Status, error) {
	var st api.Status
	if err := c.do(ctx, http.MethodGet, instancePath(id), nil, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// History returns the instance's status with the events of its current execution.
func (c *Client) History(ctx context.Context, id string) (*api.StatusWithHistory, error) {
	var sh api.StatusWithHistory
	if err := c.do(ctx, http.MethodGet, instancePath(id), url.Values{"history": {"true"}}, nil, &sh); err != nil {
		return nil, err
	}
	return &sh, nil
}

// ListOptions filter List; zero fields match everything.
type ListOptions struct {
	Statuses    []history.Status
	Name        string
	ParentID    string
	CreatedFrom time.Time
	CreatedTo   time.Time
	PageSize    int
	Cursor      string
}

// List returns one page of instances and the cursor of the next ("" on the last page).
func (c *Client) List(ctx context.Context, o ListOptions) ([]api.Status, string, error) {
	q := url.Values{}
	for _, s := range o.Statuses {
		q.Add("status", string(s))
	}
	setIf(q, "name", o.Name)
	setIf(q, "parent", o.ParentID)
	if !o.CreatedFrom.IsZero() {
		q.Set("createdFrom", o.CreatedFrom.Format(time.RFC3339Nano))
	}
	if !o.CreatedTo.IsZero() {
		q.Set("createdTo", o.CreatedTo.Format(time.RFC3339Nano))
	}
	if o.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(o.PageSize))
	}
	setIf(q, "cursor", o.Cursor)
	var lr api.ListResponse
	if err := c.do(ctx, http.MethodGet, "/v1/instances", q, nil, &lr); err != nil {
		return nil, "", err
	}
	return lr.Instances, lr.NextCursor, nil
}

// ListAll follows the cursors and returns every matching instance.
func (c *Client) ListAll(ctx context.Context, o ListOptions) ([]api.Status, error) {
	var all []api.Status
	for {
		page, next, err := c.List(ctx, o)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		o.Cursor = next
	}
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// Raise sends event name with data (marshalled like Start's input) to the instance.
func (c *Client) Raise(ctx context.Context, id, event string, data any) error {
	raw, err := marshalInput(data)
	if err != nil {
		return fmt.Errorf("raise %s: data: %w", event, err)
	}
	return c.do(ctx, http.MethodPost, instancePath(id)+"/events/"+url.PathEscape(event), nil, rawBody(raw), nil)
}

// Terminate ends the instance; recursive ends its running sub-orchestrations too.
func (c *Client) Terminate(ctx context.Context, id, reason string, recursive bool) error {
	return c.do(ctx, http.MethodPost, instancePath(id)+"/terminate", nil, api.TerminateRequest{Reason: reason, Recursive: recursive}, nil)
}

// Suspend pauses the instance: it takes no new work until Resume.
func (c *Client) Suspend(ctx context.Context, id, reason string) error {
	return c.do(ctx, http.MethodPost, instancePath(id)+"/suspend", nil, api.ReasonRequest{Reason: reason}, nil)
}

// Resume continues a suspended instance.
func (c *Client) Resume(ctx context.Context, id, reason string) error {
	return c.do(ctx, http.MethodPost, instancePath(id)+"/resume", nil, api.ReasonRequest{Reason: reason}, nil)
}

// Restart starts an ended instance again with the input of its last execution, as a new
// execution under the same id (the old history stays until the instance is purged), and
// returns the status it had. An instance that has not ended is a conflict.
func (c *Client) Restart(ctx context.Context, id string) (*api.Status, error) {
	var st api.Status
	if err := c.do(ctx, http.MethodPost, instancePath(id)+"/restart", nil, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Rewind takes a Failed instance back to just before its failure and runs it from there
// as a new execution that keeps every completed activity's and child's result, and
// returns the status it had. An instance that is not Failed is a conflict.
func (c *Client) Rewind(ctx context.Context, id, reason string) (*api.Status, error) {
	var st api.Status
	if err := c.do(ctx, http.MethodPost, instancePath(id)+"/rewind", nil, api.ReasonRequest{Reason: reason}, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Purge deletes an ended instance and its history.
func (c *Client) Purge(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, instancePath(id), nil, nil, nil)
}

// Workers lists the live workers and the partitions each owns.
func (c *Client) Workers(ctx context.Context) (*api.WorkersResponse, error) {
	var wr api.WorkersResponse
	if err := c.do(ctx, http.MethodGet, "/v1/workers", nil, nil, &wr); err != nil {
		return nil, err
	}
	return &wr, nil
}

// DeadLetters returns one page of the dead letters the dispatcher has kept (pageSize 0: the
// dispatcher's default) and the cursor of the next.
func (c *Client) DeadLetters(ctx context.Context, pageSize int, cursor string) (*api.DeadLettersResponse, error) {
	q := url.Values{}
	if pageSize > 0 {
		q.Set("pageSize", strconv.Itoa(pageSize))
	}
	setIf(q, "cursor", cursor)
	var dr api.DeadLettersResponse
	if err := c.do(ctx, http.MethodGet, "/v1/deadletters", q, nil, &dr); err != nil {
		return nil, err
	}
	return &dr, nil
}

// Redrive publishes a dead letter again to the queue it died in and forgets it.
func (c *Client) Redrive(ctx context.Context, id string) (*api.DeadLetter, error) {
	var dl api.DeadLetter
	if err := c.do(ctx, http.MethodPost, "/v1/deadletters/"+url.PathEscape(id)+"/redrive", nil, nil, &dl); err != nil {
		return nil, err
	}
	return &dl, nil
}

// Wait returns the instance's status once it has ended (Completed, Failed or Terminated).
// When timeout passes first it returns the last status seen and an error matching
// ErrWaitTimeout. progress, when not nil, is called with each status seen on the way.
func (c *Client) Wait(ctx context.Context, id string, timeout time.Duration, progress ...func(*api.Status)) (*api.Status, error) {
	deadline := time.Now().Add(timeout)
	var last *api.Status
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return last, fmt.Errorf("instance %q is still %s after %s: %w", id, statusOr(last), timeout, ErrWaitTimeout)
		}
		poll := min(left, c.maxPoll)
		var st api.Status
		err := c.do(ctx, http.MethodGet, instancePath(id)+"/wait", url.Values{"timeout": {poll.String()}}, nil, &st)
		var ae *APIError
		switch {
		case err == nil:
			report(progress, &st)
			return &st, nil
		case errors.As(err, &ae) && ae.Code == api.CodeTimeout:
			if ae.Status != nil {
				last = ae.Status
				report(progress, last)
			}
		default:
			return last, err
		}
	}
}

func statusOr(st *api.Status) history.Status {
	if st == nil {
		return "not ended"
	}
	return st.Status
}

func report(fns []func(*api.Status), st *api.Status) {
	for _, f := range fns {
		if f != nil {
			f(st)
		}
	}
}

func instancePath(id string) string { return "/v1/instances/" + url.PathEscape(id) }

// rawBody is a request body sent as it is.
type rawBody json.RawMessage

// do sends one request and decodes a 2xx answer into out (when not nil) or an error
// answer into an *APIError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	switch b := in.(type) {
	case nil:
	case rawBody:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	tracing.InjectHTTP(ctx, req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the dispatcher at %s: %w", c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the dispatcher's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		ae := &APIError{StatusCode: resp.StatusCode}
		if json.Unmarshal(data, &ae.ErrorBody) != nil || ae.ErrorBody.Error == "" {
			ae.ErrorBody = api.ErrorBody{Error: strings.TrimSpace(firstLine(string(data))), Code: "http_" + strconv.Itoa(resp.StatusCode)}
			if ae.ErrorBody.Error == "" {
				ae.ErrorBody.Error = http.StatusText(resp.StatusCode)
			}
		}
		return ae
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding the dispatcher's answer to %s %s: %w", method, path, err)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
