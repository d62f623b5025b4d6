package record

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

func TestHistoryCodecKeepsNanoseconds(t *testing.T) {
	type doc struct {
		At    time.Time `bson:"at"`
		Zero  time.Time `bson:"zero,omitempty"`
		Local time.Time `bson:"local"`
	}
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	in := doc{
		At:    time.Date(2026, 11, 25, 21, 30, 1, 123456789, time.UTC),
		Local: time.Date(1999, 12, 31, 23, 59, 59, 999999999, zone),
	}
	raw, err := Marshal(Registry, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bson.Raw(raw).LookupErr("zero"); err == nil {
		t.Errorf("a zero time tagged omitempty was written")
	}
	var out doc
	if err := Unmarshal(Registry, raw, &out); err != nil {
		t.Fatal(err)
	}
	if out.At != in.At { // == also compares the location: UTC must stay UTC
		t.Errorf("At = %v, want %v", out.At, in.At)
	}
	if !out.Local.Equal(in.Local) {
		t.Errorf("Local = %v, want the instant %v", out.Local, in.Local)
	}
	if _, off := out.Local.Zone(); off != 5*3600+1800 {
		t.Errorf("Local offset = %d, want %d", off, 5*3600+1800)
	}
	if !out.Zero.IsZero() {
		t.Errorf("Zero = %v, want the zero time", out.Zero)
	}
}

func TestHistoryCodecReadsDatetimes(t *testing.T) {
	ms := time.Date(2026, 1, 2, 3, 4, 5, 6000000, time.UTC)
	raw, err := bson.Marshal(bson.D{{Key: "at", Value: ms}, {Key: "none", Value: nil}})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		At   time.Time `bson:"at"`
		None time.Time `bson:"none"`
	}
	if err := Unmarshal(Registry, raw, &out); err != nil {
		t.Fatal(err)
	}
	if out.At != ms || !out.None.IsZero() {
		t.Errorf("decoded %v and %v, want %v and the zero time", out.At, out.None, ms)
	}
}

func TestHistoryCodecRefusesGarbage(t *testing.T) {
	for _, v := range []any{"yesterday", int32(7)} {
		raw, err := bson.Marshal(bson.D{{Key: "at", Value: v}})
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			At time.Time `bson:"at"`
		}
		if err := Unmarshal(Registry, raw, &out); err == nil {
			t.Errorf("decoding %#v into a time succeeded: %v", v, out.At)
		}
	}
}
