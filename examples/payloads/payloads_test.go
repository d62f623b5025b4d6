package payloads

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
)

func TestBigEcho(t *testing.T) {
	r := durable.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	h := durabletest.New(r)
	if err := h.Start("BigEcho", "b", 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := h.RunUntilIdle(); err != nil {
		t.Fatal(err)
	}
	var got Summary
	if err := h.Output("b", &got); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(strings.ToUpper(Text(1 << 20))))
	if got.Bytes != 1<<20 || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("got %+v", got)
	}
}
