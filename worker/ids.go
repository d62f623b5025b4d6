package worker

import (
	"crypto/rand"
	"encoding/hex"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newExecutionID names a new execution of an instance.
func newExecutionID() string { return randomHex(8) }
