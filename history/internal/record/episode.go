package record

import (
	"fmt"
	"reflect"
	"time"

	"go.mongodb.org/mongo-driver/bson/bsoncodec"
	"go.mongodb.org/mongo-driver/bson/bsonrw"

	"github.com/warrenhq/warren/history"
)

// An episode is stored as the fields the store queries and indexes (instance, execution,
// number) and the time it was committed, beside one binary field, body, that holds the rest
// (events, outbox, consumed message ids) as a BSON document of its own. The store never
// looks inside body, and one opaque field costs FerretDB a fraction of what the nested
// events cost it: each field of a stored document is converted, typed and written by
// FerretDB and PostgreSQL, where a binary is one value (on FerretDB with PostgreSQL, an
// insert of a typical episode took ~45% of the CPU of the nested form). A body of some
// size is stored compressed, as zbody (zbody.go). Episodes written before, with events,
// outbox and consumed at the top level, or an uncompressed body, still load.
type storedEpisode struct {
	InstanceID  string    `bson:"instanceId"`
	ExecutionID string    `bson:"executionId"`
	Number      int64     `bson:"number"`
	CommittedAt time.Time `bson:"committedAt"`
	Body        []byte    `bson:"body,omitempty"`
	// ZBody is body compressed (zbody.go), stored instead of it.
	ZBody []byte `bson:"zbody,omitempty"`
	// The nested form of episodes written before body.
	Events   []history.Event         `bson:"events,omitempty"`
	Outbox   []history.OutboxMessage `bson:"outbox,omitempty"`
	Consumed []string                `bson:"consumed,omitempty"`
}

// episodeBody is what body holds.
type episodeBody struct {
	Events   []history.Event         `bson:"events"`
	Outbox   []history.OutboxMessage `bson:"outbox,omitempty"`
	Consumed []string                `bson:"consumed,omitempty"`
	Chained  bool                    `bson:"chained,omitempty"`
}

var (
	episodeType       = reflect.TypeOf(history.Episode{})
	storedEpisodeType = reflect.TypeOf(storedEpisode{})
)

func encodeEpisode(ec bsoncodec.EncodeContext, vw bsonrw.ValueWriter, val reflect.Value) error {
	if !val.IsValid() || val.Type() != episodeType {
		return bsoncodec.ValueEncoderError{Name: "encodeEpisode", Types: []reflect.Type{episodeType}, Received: val}
	}
	ep := val.Interface().(history.Episode)
	body, err := Marshal(ec.Registry, episodeBody{Events: ep.Events, Outbox: ep.Outbox, Consumed: ep.Consumed, Chained: ep.Chained})
	if err != nil {
		return fmt.Errorf("episode body: %w", err)
	}
	// Stores agree on what they refuse (CheckDocument): no string with a NUL byte, even
	// inside the body where FerretDB would not see it.
	if path, ok := findNUL(body, "body."); ok {
		return fmt.Errorf("the string at %s contains a NUL byte", path)
	}
	se := storedEpisode{InstanceID: ep.InstanceID, ExecutionID: ep.ExecutionID, Number: ep.Number, CommittedAt: ep.CommittedAt, Body: body}
	if z, ok := compressBody(body); ok {
		se.Body, se.ZBody = nil, z
	}
	enc, err := ec.LookupEncoder(storedEpisodeType)
	if err != nil {
		return err
	}
	return enc.EncodeValue(ec, vw, reflect.ValueOf(se))
}

func decodeEpisode(dc bsoncodec.DecodeContext, vr bsonrw.ValueReader, val reflect.Value) error {
	if !val.CanSet() || val.Type() != episodeType {
		return bsoncodec.ValueDecoderError{Name: "decodeEpisode", Types: []reflect.Type{episodeType}, Received: val}
	}
	dec, err := dc.LookupDecoder(storedEpisodeType)
	if err != nil {
		return err
	}
	var se storedEpisode
	if err := dec.DecodeValue(dc, vr, reflect.ValueOf(&se).Elem()); err != nil {
		return err
	}
	ep := history.Episode{InstanceID: se.InstanceID, ExecutionID: se.ExecutionID, Number: se.Number, CommittedAt: se.CommittedAt,
		Events: se.Events, Outbox: se.Outbox, Consumed: se.Consumed}
	if len(se.ZBody) > 0 {
		body, err := expandBody(se.ZBody)
		if err != nil {
			return fmt.Errorf("episode %q/%s#%d: %w", se.InstanceID, se.ExecutionID, se.Number, err)
		}
		se.Body = body
	}
	if len(se.Body) > 0 {
		var b episodeBody
		if err := Unmarshal(dc.Registry, se.Body, &b); err != nil {
			return fmt.Errorf("episode %q/%s#%d: body: %w", se.InstanceID, se.ExecutionID, se.Number, err)
		}
		ep.Events, ep.Outbox, ep.Consumed, ep.Chained = b.Events, b.Outbox, b.Consumed, b.Chained
	}
	val.Set(reflect.ValueOf(ep))
	return nil
}
