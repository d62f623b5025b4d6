package mongo

import "testing"

// These run without a server.

func TestCursorRoundTrip(t *testing.T) {
	c := listCursor{CreatedAtMs: 1764106213123, ID: "odd id/with:chars ✓"}
	got, err := decodeCursor(encodeCursor(c))
	if err != nil || got != c {
		t.Fatalf("decodeCursor(encodeCursor(%+v)) = %+v, %v", c, got, err)
	}
	for _, bad := range []string{"!", "e30", "bm90IGpzb24"} { // not base64, {}, "not json"
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("decodeCursor(%q) succeeded", bad)
		}
	}
}
