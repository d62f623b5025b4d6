package dispatcher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/warrenhq/warren/api"
)

// MaxInstanceIDLen and MaxNameLen bound ids and names the API accepts.
const (
	MaxInstanceIDLen = 256
	MaxNameLen       = 256
)

// validInstanceID checks an instance id: 1 to 256 of A-Z a-z 0-9 _ . : - (the colon is
// what child ids "<parent>:<task>" use).
func validInstanceID(id string) *apiError {
	bad := len(id) == 0 || len(id) > MaxInstanceIDLen
	for i := 0; !bad && i < len(id); i++ {
		c := id[i]
		bad = !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-')
	}
	if !bad {
		return nil
	}
	return errorf(http.StatusBadRequest, api.CodeInvalidInstanceID, fmt.Sprintf(
		"invalid instance id %s: an instance id is 1 to %d characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'",
		quoteShort(id), MaxInstanceIDLen))
}

// validName checks an orchestrator or event name: 1 to 256 printable characters.
func validName(what, name string) *apiError {
	ok := len(name) > 0 && len(name) <= MaxNameLen && utf8.ValidString(name)
	if ok {
		for _, r := range name {
			if !unicode.IsPrint(r) {
				ok = false
				break
			}
		}
	}
	if ok {
		return nil
	}
	if name == "" {
		return errorf(http.StatusBadRequest, api.CodeInvalidArgument, what+" is missing")
	}
	return errorf(http.StatusBadRequest, api.CodeInvalidArgument, fmt.Sprintf(
		"invalid %s %s: it must be 1 to %d printable characters", what, quoteShort(name), MaxNameLen))
}

func quoteShort(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", s[:64], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// readBody reads the whole request body, at most limit bytes (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, api.CodePayloadTooLarge, fmt.Sprintf(
				"request body is larger than the limit of %d bytes", limit))
		}
		return nil, errorf(http.StatusBadRequest, api.CodeInvalidArgument, "reading the request body: "+err.Error())
	}
	return b, nil
}

// decodeBody reads a JSON object into v; an empty body leaves v as it is when optional.
// Unknown fields are refused so that a misspelt field is not silently ignored.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, optional bool) *apiError {
	b, ae := readBody(w, r, limit)
	if ae != nil {
		return ae
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if optional {
			return nil
		}
		return errorf(http.StatusBadRequest, api.CodeBadJSON, "request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, api.CodeBadJSON, "malformed JSON in the request body: "+err.Error())
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, api.CodeBadJSON, "malformed JSON in the request body: more than one value")
	}
	return nil
}

// jsonValue checks that b is one JSON value; empty means none (nil).
func jsonValue(what string, b []byte) (json.RawMessage, *apiError) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, errorf(http.StatusBadRequest, api.CodeBadJSON, what+" is not valid JSON")
	}
	return json.RawMessage(b), nil
}
