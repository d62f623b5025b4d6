// Package payloads shows that large inputs and outputs ask nothing of the user: BigEcho
// hands an activity an input of the size asked for and gets as much back; Warren keeps
// whatever is over WARREN_PAYLOAD_INLINE_MAX beside the history and passes refs.
package payloads

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/warrenhq/warren/durable"
)

// Register adds BigEcho and Upper to r.
func Register(r *durable.Registry) error {
	return errors.Join(
		durable.AddOrchestrator(r, "BigEcho", BigEcho),
		durable.AddActivity(r, "Upper", Upper),
	)
}

// Summary says what came back: its size and SHA-256.
type Summary struct {
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Text is the input BigEcho sends for size bytes.
func Text(size int) string {
	return strings.Repeat("warren ", size/7+1)[:size]
}

// BigEcho sends Upper a text of size bytes and summarizes the text it returns.
func BigEcho(ctx *durable.OrchestrationContext, size int) (Summary, error) {
	var out string
	if err := ctx.CallActivity("Upper", Text(size)).Await(&out); err != nil {
		return Summary{}, err
	}
	sum := sha256.Sum256([]byte(out))
	return Summary{Bytes: len(out), SHA256: hex.EncodeToString(sum[:])}, nil
}

// Upper returns s in upper case.
func Upper(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil }
