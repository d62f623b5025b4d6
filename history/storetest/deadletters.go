package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warrenhq/warren/history"
)

// RunDeadLetters checks a history.DeadLetterStore: put (twice the same id keeps one
// record), paged listing oldest first, get, delete, and the not-found answers.
func RunDeadLetters(t *testing.T, newStore func(t *testing.T) history.Store) {
	s, ok := newStore(t).(history.DeadLetterStore)
	if !ok {
		t.Fatal("the store does not keep dead letters")
	}
	ctx := testContext(t)
	base := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for i := range 7 {
		d := history.DeadLetter{ID: fmt.Sprintf("dl-%d", i), MessageID: fmt.Sprintf("m-%d", i), Kind: "ActivityRequest",
			Reason: "delivery_limit", SourceQueue: "h.workitems", Body: []byte{0, 1, byte(i)},
			PublishedAt: base, DeadAt: base.Add(time.Duration(i/2) * time.Second)} // ties in pairs
		if err := s.PutDeadLetter(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	again := history.DeadLetter{ID: "dl-3", MessageID: "m-3", Kind: "ActivityRequest", Reason: "again", SourceQueue: "h.workitems",
		Body: []byte{0, 1, 3}, PublishedAt: base, DeadAt: base.Add(time.Second)}
	if err := s.PutDeadLetter(ctx, again); err != nil {
		t.Fatal(err)
	}
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, next, err := s.ListDeadLetters(ctx, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			ids = append(ids, d.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if want := "[dl-0 dl-1 dl-2 dl-3 dl-4 dl-5 dl-6]"; fmt.Sprint(ids) != want {
		t.Errorf("listed %v, want %s", ids, want)
	}
	got, err := s.GetDeadLetter(ctx, "dl-3")
	if err != nil {
		t.Fatal(err)
	}
	if got.Reason != "again" || !bytes.Equal(got.Body, []byte{0, 1, 3}) || got.SourceQueue != "h.workitems" || !got.DeadAt.Equal(again.DeadAt) {
		t.Errorf("got %+v, want %+v", got, again)
	}
	if err := s.DeleteDeadLetter(ctx, "dl-3", again.DeadAt.Add(time.Millisecond)); !errors.Is(err, history.ErrDeadLetterNotFound) {
		t.Errorf("delete of a record kept at another time: %v", err)
	}
	if _, err := s.GetDeadLetter(ctx, "dl-3"); err != nil {
		t.Fatalf("the record kept at another time was deleted: %v", err)
	}
	if err := s.DeleteDeadLetter(ctx, "dl-3", again.DeadAt); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetDeadLetter(ctx, "dl-3"); !errors.Is(err, history.ErrDeadLetterNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if err := s.DeleteDeadLetter(ctx, "dl-3", again.DeadAt); !errors.Is(err, history.ErrDeadLetterNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, _, err := s.ListDeadLetters(ctx, 0, ""); !errors.Is(err, history.ErrInvalidArgument) {
		t.Errorf("limit 0: %v", err)
	}
}
