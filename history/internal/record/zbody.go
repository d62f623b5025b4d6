package record

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// An episode's body of zbodyMin bytes or more is stored compressed with zstd, in the field
// zbody instead of body, when that is smaller. A hello sequence's folded episode (3.2 KiB
// of body) takes 0.7 KiB so, and its insert costs FerretDB and PostgreSQL about a third
// less CPU (0.17-0.19 ms instead of 0.27-0.29 per episode in batches of eight), for ~20 µs
// of the worker's to compress it. A body over MaxBytes is left as it is, so that a store
// refuses the same episodes as before (CheckDocument).
const zbodyMin = 512

var (
	zEncoder = mustZ(zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest)))
	// zDecoder refuses to expand a body beyond what a record may hold: a corrupt or hostile
	// zbody cannot make a reader allocate more.
	zDecoder = mustZ(zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxBytes), zstd.WithDecoderConcurrency(0)))
)

func mustZ[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("record: zstd: %v", err)) // only for options that are invalid
	}
	return v
}

// compressBody returns the compressed form of body when it is worth storing instead.
func compressBody(body []byte) ([]byte, bool) {
	if len(body) < zbodyMin || len(body) > MaxBytes {
		return nil, false
	}
	z := zEncoder.EncodeAll(body, make([]byte, 0, len(body)/3))
	return z, len(z) < len(body)
}

// expandBody is the body a zbody holds.
func expandBody(z []byte) ([]byte, error) {
	body, err := zDecoder.DecodeAll(z, nil)
	if err != nil {
		return nil, fmt.Errorf("zbody: %w", err)
	}
	return body, nil
}
