package record

import "testing"

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
