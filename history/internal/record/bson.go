package record

import (
	"bytes"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsoncodec"
	"go.mongodb.org/mongo-driver/bson/bsonrw"
)

// DefaultRegistry is the driver's default registry, built once: instances and workers are
// encoded with it (times as BSON datetimes).
var DefaultRegistry = bson.NewRegistry()

// Marshal encodes v as one BSON document with reg (the driver's encoder with a registry set:
// bson.MarshalWithRegistry is deprecated).
func Marshal(reg *bsoncodec.Registry, v any) (bson.Raw, error) {
	var buf bytes.Buffer
	vw, err := bsonrw.NewBSONValueWriter(&buf)
	if err != nil {
		return nil, err
	}
	enc, err := bson.NewEncoder(vw)
	if err != nil {
		return nil, err
	}
	if err := enc.SetRegistry(reg); err != nil {
		return nil, err
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes the BSON document doc into v with reg.
func Unmarshal(reg *bsoncodec.Registry, doc []byte, v any) error {
	dec, err := bson.NewDecoder(bsonrw.NewBSONDocumentReader(doc))
	if err != nil {
		return err
	}
	if err := dec.SetRegistry(reg); err != nil {
		return err
	}
	return dec.Decode(v)
}
