// Package dnswire walks DNS messages in wire form without unpacking them:
// the edge's query path and its response rate limiter read a few fields of
// packets they never decode, and must not allocate to do it.
package dnswire

import "encoding/binary"

// HeaderLen is the length of a DNS message header.
const HeaderLen = 12

// SkipName returns the offset just past the (possibly compressed) name at
// off in b, or -1 when it runs past the message or uses a reserved label
// type.
func SkipName(b []byte, off int) int {
	for off < len(b) {
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1
		case l&0xc0 == 0xc0: // a pointer ends the name
			if off+2 > len(b) {
				return -1
			}
			return off + 2
		case l > 63:
			return -1
		}
		off += 1 + l
	}
	return -1
}

// SkipRR returns the offset just past the resource record at off in b, or
// -1 when it runs past the message.
func SkipRR(b []byte, off int) int {
	off = SkipName(b, off)
	if off < 0 || off+10 > len(b) {
		return -1
	}
	off += 10 + int(binary.BigEndian.Uint16(b[off+8:]))
	if off > len(b) {
		return -1
	}
	return off
}
