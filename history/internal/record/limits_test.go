package record

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/warrenhq/warren/history"
)

func TestCheckDocumentFindsNULInNestedStrings(t *testing.T) {
	cases := []struct {
		name string
		doc  bson.D
		path string // "" when the document is accepted
	}{
		{"clean", bson.D{{Key: "a", Value: "x"}, {Key: "b", Value: bson.A{"y", bson.D{{Key: "c", Value: "z"}}}}}, ""},
		{"top level", bson.D{{Key: "a", Value: "x\x00"}}, "a"},
		{"in an array", bson.D{{Key: "a", Value: bson.A{"ok", "\x00"}}}, "a.1"},
		{"in a nested document", bson.D{{Key: "e", Value: bson.A{bson.D{{Key: "name", Value: "n\x00"}}}}}, "e.0.name"},
		{"binary may hold NUL", bson.D{{Key: "b", Value: []byte{0, 1, 0}}}, ""},
	}
	for _, tc := range cases {
		raw, err := bson.Marshal(tc.doc)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckDocument("doc", raw, 0)
		switch {
		case tc.path == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.path != "" && !errors.Is(err, history.ErrInvalidArgument):
			t.Errorf("%s: %v, want ErrInvalidArgument", tc.name, err)
		case tc.path != "" && err.Error() != fmt.Sprintf("%v: doc: the string at %s contains a NUL byte", history.ErrInvalidArgument, tc.path):
			t.Errorf("%s: %v does not name %s", tc.name, err, tc.path)
		}
	}
	big, _ := bson.Marshal(bson.D{{Key: "b", Value: make([]byte, MaxBytes)}})
	if err := CheckDocument("doc", big, 0); !errors.Is(err, history.ErrTooLarge) {
		t.Errorf("a document over the limit: %v, want ErrTooLarge", err)
	}
	if err := CheckDocument("doc", big, len(big)-MaxBytes); err != nil {
		t.Errorf("a document at the limit once the store's fields are left out: %v", err)
	}
}

func TestCheckID(t *testing.T) {
	cases := []struct {
		id   string
		want string // the error, "" when the id is accepted
	}{
		{"i-1", ""},
		{strings.Repeat("x", MaxIDBytes), ""},
		{"", "empty instance id"},
		{strings.Repeat("x", MaxIDBytes+1), fmt.Sprintf("instance id is %d bytes long (at most %d)", MaxIDBytes+1, MaxIDBytes)},
		{"bad\xff", `instance id "bad\xff" is not valid UTF-8`},
		{"n\x00l", `instance id "n\x00l" contains a NUL byte`},
	}
	for _, tc := range cases {
		err := CheckID("instance id", tc.id)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckID(%q): %v", tc.id, err)
		case tc.want != "" && !errors.Is(err, history.ErrInvalidArgument):
			t.Errorf("CheckID(%q) = %v, want ErrInvalidArgument", tc.id, err)
		case tc.want != "" && err.Error() != history.ErrInvalidArgument.Error()+": "+tc.want:
			t.Errorf("CheckID(%q) = %q, want %q", tc.id, err, tc.want)
		}
	}
}
