package hello_test

import (
	"testing"

	"github.com/warrenhq/warren/durable"
	"github.com/warrenhq/warren/durabletest"
	"github.com/warrenhq/warren/examples/hello"
	"github.com/warrenhq/warren/history"
)

func TestHelloSequence(t *testing.T) {
	r := durable.NewRegistry()
	if err := hello.Register(r); err != nil {
		t.Fatal(err)
	}
	h := durabletest.New(r)
	if err := h.Start("HelloSequence", "h", "Tokyo"); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := h.Output("h", &out); err != nil {
		t.Fatal(err)
	}
	want := "Hello, Tokyo! Hello, Tokyo! Hello, Tokyo! Hello, Tokyo! Hello, Tokyo!"
	if out != want {
		t.Fatalf("output %q, want %q", out, want)
	}
	n := 0
	for _, ev := range h.History("h") {
		if ev.Kind == history.TaskScheduled {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("%d activities scheduled, want 5", n)
	}
	if err := hello.Register(r); err == nil {
		t.Fatal("registering twice should fail")
	}
}
