package record

import (
	"fmt"
	"reflect"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsoncodec"
	"go.mongodb.org/mongo-driver/bson/bsonrw"
)

// Registry encodes episodes (the history collection's documents). It differs from the
// driver's default in one respect: a time.Time is stored as an RFC 3339 string with
// nanoseconds instead of a BSON datetime, which keeps only milliseconds. An orchestrator
// replays with the timestamps of its history (CurrentTime, timer due times), so a worker
// that reloads history must see exactly the times that the worker which wrote it had in
// memory. History is never queried by time, so nothing is lost by not using datetimes here.
//
// json.RawMessage and []byte fields use the default codec: BSON binary, byte for byte.
var Registry = newRegistry()

var timeType = reflect.TypeOf(time.Time{})

func newRegistry() *bsoncodec.Registry {
	r := bson.NewRegistry()
	r.RegisterTypeEncoder(timeType, bsoncodec.ValueEncoderFunc(encodeExactTime))
	r.RegisterTypeDecoder(timeType, bsoncodec.ValueDecoderFunc(decodeExactTime))
	r.RegisterTypeEncoder(episodeType, bsoncodec.ValueEncoderFunc(encodeEpisode))
	r.RegisterTypeDecoder(episodeType, bsoncodec.ValueDecoderFunc(decodeEpisode))
	return r
}

func encodeExactTime(_ bsoncodec.EncodeContext, vw bsonrw.ValueWriter, val reflect.Value) error {
	if !val.IsValid() || val.Type() != timeType {
		return bsoncodec.ValueEncoderError{Name: "encodeExactTime", Types: []reflect.Type{timeType}, Received: val}
	}
	return vw.WriteString(val.Interface().(time.Time).Format(time.RFC3339Nano))
}

// decodeExactTime reads the strings encodeExactTime writes, and also plain BSON datetimes
// (so documents written by other tools still load).
func decodeExactTime(_ bsoncodec.DecodeContext, vr bsonrw.ValueReader, val reflect.Value) error {
	if !val.CanSet() || val.Type() != timeType {
		return bsoncodec.ValueDecoderError{Name: "decodeExactTime", Types: []reflect.Type{timeType}, Received: val}
	}
	var t time.Time
	switch vr.Type() {
	case bson.TypeString:
		s, err := vr.ReadString()
		if err != nil {
			return err
		}
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("history time %q: %w", s, err)
		}
	case bson.TypeDateTime:
		ms, err := vr.ReadDateTime()
		if err != nil {
			return err
		}
		t = time.UnixMilli(ms).UTC()
	case bson.TypeNull:
		if err := vr.ReadNull(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("history time: cannot decode BSON %s into time.Time", vr.Type())
	}
	val.Set(reflect.ValueOf(t))
	return nil
}
