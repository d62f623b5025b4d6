package main

import (
	"testing"

	"github.com/warrenhq/warren/history"
)

func TestDescribeEventShowsPatchMarkers(t *testing.T) {
	got := describeEvent(history.Event{Kind: history.PatchMarker, Name: "bye-fr"})
	if got != "PatchMarker name=bye-fr" {
		t.Fatalf("got %q", got)
	}
}
