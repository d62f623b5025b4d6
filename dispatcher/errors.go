package dispatcher

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/warrenhq/warren/api"
	mongostore "github.com/warrenhq/warren/history/mongo"
)

// apiError is an answer that is not a success: the status code and the JSON error body.
type apiError struct {
	status int
	body   api.ErrorBody
}

func (e *apiError) Error() string { return e.body.Error }

func errorf(status int, code, msg string) *apiError {
	return &apiError{status: status, body: api.ErrorBody{Error: msg, Code: code}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// writeError answers with err: an *apiError as it is, a store that is out of reach as 503,
// anything else as 500 (its text is logged, not shown: it may name internals).
func (d *Dispatcher) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case mongostore.IsUnavailable(err):
		ae = d.unavailable(r, "the request", err)
	default:
		d.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errorf(http.StatusInternalServerError, api.CodeInternal, "internal error; see the dispatcher's log")
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="warren"`)
	}
	writeJSON(w, ae.status, ae.body)
}

// unavailable is the answer when the store or the broker failed: the request changed
// nothing it could not undo, and may be tried again. A store that is out of reach (down,
// restarting, not answering in time) is said in so many words; the driver's error, which
// names hosts and the topology, goes to the log.
func (d *Dispatcher) unavailable(r *http.Request, what string, err error) *apiError {
	d.log.Warn(what+" failed", "method", r.Method, "path", r.URL.Path, "err", err)
	if mongostore.IsUnavailable(err) {
		return errorf(http.StatusServiceUnavailable, api.CodeUnavailable,
			what+" failed: the store (MongoDB) is not answering, perhaps restarting; try again in a few seconds")
	}
	return errorf(http.StatusServiceUnavailable, api.CodeUnavailable, what+" failed: "+err.Error()+"; try again")
}
