package durable

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
)

// uuidNamespace is the name-space of the UUIDs NewUUID makes (a fixed random UUID).
var uuidNamespace = [16]byte{0x5b, 0x0e, 0x3c, 0x8a, 0x1f, 0x2d, 0x4e, 0x71, 0x9a, 0x36, 0xc4, 0x0b, 0x7d, 0xe2, 0x58, 0x93}

// nameUUID returns the version 5 (SHA-1, name-based) UUID of name in uuidNamespace: the
// same name always gives the same UUID, which is what replay needs.
func nameUUID(name string) string {
	h := sha1.New()
	h.Write(uuidNamespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}

func uuidName(instanceID, executionID string, n int) string {
	return instanceID + "\x00" + executionID + "\x00" + strconv.Itoa(n)
}
