package memstore

import (
	"fmt"
	"reflect"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsoncodec"
	"go.mongodb.org/mongo-driver/bson/bsonrw"
	"go.mongodb.org/mongo-driver/bson/bsontype"
)

// The store keeps every record BSON-encoded, as history/mongo sends it to the server, so
// that what comes back is a copy and rounds as it would there: instances and workers with
// the driver's defaults (times as datetimes, milliseconds in UTC), episodes with
// historyRegistry (times as RFC 3339 strings with nanoseconds, as history/mongo writes
// them). json.RawMessage and []byte fields are binary, byte for byte, either way.
var historyRegistry = newHistoryRegistry()

var timeType = reflect.TypeOf(time.Time{})

func newHistoryRegistry() *bsoncodec.Registry {
	r := bson.NewRegistry()
	r.RegisterTypeEncoder(timeType, bsoncodec.ValueEncoderFunc(encodeExactTime))
	r.RegisterTypeDecoder(timeType, bsoncodec.ValueDecoderFunc(decodeExactTime))
	return r
}

func encodeExactTime(_ bsoncodec.EncodeContext, vw bsonrw.ValueWriter, val reflect.Value) error {
	if !val.IsValid() || val.Type() != timeType {
		return bsoncodec.ValueEncoderError{Name: "encodeExactTime", Types: []reflect.Type{timeType}, Received: val}
	}
	return vw.WriteString(val.Interface().(time.Time).Format(time.RFC3339Nano))
}

func decodeExactTime(_ bsoncodec.DecodeContext, vr bsonrw.ValueReader, val reflect.Value) error {
	if !val.CanSet() || val.Type() != timeType {
		return bsoncodec.ValueDecoderError{Name: "decodeExactTime", Types: []reflect.Type{timeType}, Received: val}
	}
	var t time.Time
	switch vr.Type() {
	case bsontype.String:
		s, err := vr.ReadString()
		if err != nil {
			return err
		}
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("history time %q: %w", s, err)
		}
	case bsontype.Null:
		if err := vr.ReadNull(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("history time: cannot decode BSON %s into time.Time", vr.Type())
	}
	val.Set(reflect.ValueOf(t))
	return nil
}

// decode decodes a stored record into a new value, panicking on an error: the store wrote
// every record it reads, so an error is a bug in the store.
func decode[T any](doc bson.Raw, reg *bsoncodec.Registry) *T {
	v := new(T)
	if err := bson.UnmarshalWithRegistry(reg, doc, v); err != nil {
		panic(fmt.Sprintf("memstore: decoding a stored %T: %v", *v, err))
	}
	return v
}
