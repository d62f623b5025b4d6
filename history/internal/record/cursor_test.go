package record

import (
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{CreatedAtMs: 1764106213123, ID: "odd id/with:chars ✓"}
	got, err := DecodeCursor(EncodeCursor(c))
	if err != nil || got != c {
		t.Fatalf("DecodeCursor(EncodeCursor(%+v)) = %+v, %v", c, got, err)
	}
	for _, bad := range []string{"!", "e30", "bm90IGpzb24"} { // not base64, {}, "not json"
		if _, err := DecodeCursor(bad); err == nil {
			t.Errorf("DecodeCursor(%q) succeeded", bad)
		}
	}
}

func TestPageCutsAndPointsAfterTheLast(t *testing.T) {
	type rec struct {
		at time.Time
		id string
	}
	t0 := time.UnixMilli(1764106213123).UTC()
	recs := []rec{{t0, "a"}, {t0, "b"}, {t0.Add(time.Millisecond), "a"}}
	key := func(r rec) (time.Time, string) { return r.at, r.id }
	if page, next := Page(recs, 3, key); len(page) != 3 || next != "" {
		t.Fatalf("Page(3 records, 3) = %d records, next %q; want all three and no next page", len(page), next)
	}
	page, next := Page(recs, 2, key)
	if len(page) != 2 || next == "" {
		t.Fatalf("Page(3 records, 2) = %d records, next %q; want two and a next page", len(page), next)
	}
	c, err := ParseCursor(next)
	if err != nil {
		t.Fatal(err)
	}
	var follow []rec
	for _, r := range recs {
		if c.Follows(r.at, r.id) {
			follow = append(follow, r)
		}
	}
	if len(follow) != 1 || follow[0] != recs[2] {
		t.Errorf("after the cursor of the first page: %v, want only %v", follow, recs[2])
	}
	if c, err := ParseCursor(""); c != nil || err != nil {
		t.Errorf(`ParseCursor("") = %v, %v; want nil, nil`, c, err)
	}
}
