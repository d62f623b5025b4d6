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

func TestDescribeEventShowsRewinds(t *testing.T) {
	for ev, want := range map[*history.Event]string{
		{Kind: history.ExecutionStarted, Name: "O", RewoundFrom: []string{"e1", "e2"}}: "ExecutionStarted name=O rewoundFrom=e1,e2",
		{Kind: history.ExecutionRewound, Reason: "fixed"}:                              "ExecutionRewound reason=fixed",
	} {
		if got := describeEvent(*ev); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
