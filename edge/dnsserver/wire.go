package dnsserver

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// The fast path reads the header, the one question and the OPT record
// straight from the packet instead of unpacking a dns.Msg, which costs
// several allocations per query. It accepts only the plain shape nearly
// every query has; anything else (compression in the question, escapes,
// unusual options, trailing bytes, an OPT version other than 0, another
// opcode) goes to the full parser, which keeps the exact behaviour for it.

// Offsets and flags of the DNS header (RFC 1035 4.1.1).
const (
	flagQR     = 0x80 // byte 2
	flagRD     = 0x01 // byte 2
	flagAA     = 0x04 // byte 2
	flagTC     = 0x02 // byte 2
	flagCD     = 0x10 // byte 3
	opcodeMask = 0x78 // byte 2
	optRRLen   = 11   // an OPT record without options
	maxNameLen = 255
)

// fastQuery is a query as the fast path read it.
type fastQuery struct {
	// qEnd is the offset just past the question: query[12:qEnd] is the
	// question as sent (its case included), copied into answers.
	qEnd int
	// lower is the query name in presentation form, lower-cased and fully
	// qualified, and asked the name as sent; only [:nameLen] is used.
	lower, asked [maxNameLen + 1]byte
	nameLen      int
	// mixed is set when the name has upper-case letters.
	mixed   bool
	qtype   uint16
	qclass  uint16
	edns    bool
	do      bool
	udpSize uint16
}

// name returns the lower-cased query name (a view of q.lower).
func (q *fastQuery) name() []byte { return q.lower[:q.nameLen] }

// askedName returns the query name as sent (a view of q.asked).
func (q *fastQuery) askedName() []byte { return q.asked[:q.nameLen] }

// parseFast reads a query of the plain shape into q and reports whether it
// could; false sends the packet to the full parser.
func parseFast(b []byte, q *fastQuery) bool {
	if len(b) < headerLen+5 || b[2]&(flagQR|opcodeMask) != 0 {
		return false
	}
	qd := binary.BigEndian.Uint16(b[4:])
	an := binary.BigEndian.Uint16(b[6:])
	ns := binary.BigEndian.Uint16(b[8:])
	ar := binary.BigEndian.Uint16(b[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return false
	}
	off := headerLen
	n := 0
	q.mixed = false
	for {
		if off >= len(b) {
			return false
		}
		l := int(b[off])
		off++
		if l == 0 {
			break
		}
		// Compression pointers (and the reserved label types) never occur
		// in a well-formed question: the full parser decides about them.
		// n+l+1 presentation octets are n+l+2 on the wire, root included.
		if l > 63 || off+l > len(b) || n+l+2 > maxNameLen {
			return false
		}
		for _, c := range b[off : off+l] {
			q.asked[n] = c
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '*':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
				q.mixed = true
			default:
				// Needs escaping in presentation form.
				return false
			}
			q.lower[n] = c
			n++
		}
		q.lower[n], q.asked[n] = '.', '.'
		n++
		off += l
	}
	if n == 0 { // the root
		q.lower[0], q.asked[0] = '.', '.'
		n = 1
	}
	if off+4 > len(b) {
		return false
	}
	q.nameLen = n
	q.qtype = binary.BigEndian.Uint16(b[off:])
	q.qclass = binary.BigEndian.Uint16(b[off+2:])
	off += 4
	q.qEnd = off
	q.edns, q.do, q.udpSize = false, false, 0
	if ar == 0 {
		return off == len(b)
	}
	// The OPT record: root owner, type OPT, class = UDP size, TTL =
	// extended RCODE, version, flags; then its options.
	if off+optRRLen > len(b) || b[off] != 0 || binary.BigEndian.Uint16(b[off+1:]) != dns.TypeOPT {
		return false
	}
	q.udpSize = binary.BigEndian.Uint16(b[off+3:])
	if b[off+5] != 0 || b[off+6] != 0 { // extended RCODE, version
		return false
	}
	q.do = b[off+7]&0x80 != 0
	rdlen := int(binary.BigEndian.Uint16(b[off+9:]))
	off += optRRLen
	if off+rdlen != len(b) {
		return false
	}
	// Options are ignored, but only those the full parser cannot reject
	// are let through here.
	for end := off + rdlen; off < end; {
		if off+4 > end {
			return false
		}
		code := binary.BigEndian.Uint16(b[off:])
		l := int(binary.BigEndian.Uint16(b[off+2:]))
		off += 4 + l
		if off > end || (code != dns.EDNS0COOKIE && code != dns.EDNS0PADDING) {
			return false
		}
	}
	q.edns = true
	return true
}

// udpLimit is the most a UDP answer to q may hold.
func (q *fastQuery) limit(tcp bool) int {
	switch {
	case tcp:
		return dns.MaxMsgSize
	case q.edns:
		return min(max(int(q.udpSize), MinUDPSize), EDNSBufferSize)
	}
	return MinUDPSize
}

// appendOPT appends our OPT record (UDP size EDNSBufferSize, version 0, DO
// echoed, no options).
func appendOPT(b []byte, do bool) []byte {
	var flags byte
	if do {
		flags = 0x80
	}
	return append(b, 0, // root owner
		byte(dns.TypeOPT>>8), byte(dns.TypeOPT),
		byte(EDNSBufferSize>>8), byte(EDNSBufferSize&0xff),
		0, 0, flags, 0, // extended RCODE, version, DO + Z
		0, 0) // no options
}
