package dnsserver

import (
	"encoding/binary"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/dnswire"
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
	// qualified (the answer cache's key); only [:nameLen] is used.
	lower   [maxNameLen + 1]byte
	nameLen int
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
		q.lower[n] = '.'
		n++
		off += l
	}
	if n == 0 { // the root
		q.lower[0] = '.'
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
		if off > end || (code != dns.EDNS0COOKIE && code != dns.EDNS0PADDING) ||
			(code == dns.EDNS0COOKIE && !cookieLenOK(l)) {
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

// cookieLenOK reports whether a COOKIE option of l bytes is well formed
// (RFC 7873 4 and 5.2.2): a client cookie of 8 bytes, alone or followed by
// a server cookie of 8 to 32 bytes. Any other length gets FORMERR.
func cookieLenOK(l int) bool { return l == 8 || 16 <= l && l <= 40 }

// The error path builds FORMERR and NOTIMP replies straight from the
// packet: it must answer packets dns.Msg cannot unpack (that is what makes
// them FORMERR), and it allocates nothing. Such a reply is never longer
// than the query (header, at most the query's one question, and our OPT
// only when the query carried one), so answering instead of dropping gives
// an attacker no amplification (RFC 8906 asks servers to answer).

// questionEnd returns the offset just past the query's first question when
// it is well formed and uncompressed (a compression pointer in the first
// question could only point into the header), or -1.
func questionEnd(b []byte) int {
	off, wire := headerLen, 0
	for {
		if off >= len(b) {
			return -1
		}
		l := int(b[off])
		if l > 63 {
			return -1
		}
		wire += l + 1
		off += 1 + l
		if wire > maxNameLen {
			return -1
		}
		if l == 0 {
			break
		}
	}
	if off+4 > len(b) {
		return -1
	}
	return off + 4
}

// ednsOf reports whether the query holds an OPT record whose fixed part
// can be read (in whichever section: a misplaced OPT still says the client
// speaks EDNS) and the DO bit of the first one.
func ednsOf(b []byte) (edns, do bool) {
	off := headerLen
	for range binary.BigEndian.Uint16(b[4:]) {
		if off = dnswire.SkipName(b, off); off < 0 || off+4 > len(b) {
			return false, false
		}
		off += 4
	}
	rrs := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:])) +
		int(binary.BigEndian.Uint16(b[10:]))
	for range rrs {
		if off = dnswire.SkipName(b, off); off < 0 || off+10 > len(b) {
			return false, false
		}
		if binary.BigEndian.Uint16(b[off:]) == dns.TypeOPT {
			return true, b[off+6]&0x80 != 0
		}
		off += 10 + int(binary.BigEndian.Uint16(b[off+8:]))
	}
	return false, false
}

// appendError appends the reply with rcode (FORMERR or NOTIMP, below 16)
// to query: its id and opcode; for QUERY, RD and CD copied as in every
// answer, for other opcodes no flag at all (AA, TC, RD, RA, AD and CD are
// QUERY's: RFC 2136 2.2 makes those bits Z in UPDATE, and an opcode we do
// not implement has no answer to qualify); the question when the query has
// exactly one and it could be read; and, when the query carried an OPT
// record, ours (RFC 6891 6 and 7: a FORMERR over a malformed OPT still
// carries one, so that the client can tell it from a server without EDNS).
func appendError(b, query []byte, rcode int) []byte {
	op := query[2] & opcodeMask
	f2, f3 := flagQR|op, byte(rcode)
	if op == 0 {
		f2 |= query[2] & flagRD
		f3 |= query[3] & flagCD
	}
	qEnd := -1
	if binary.BigEndian.Uint16(query[4:]) == 1 {
		qEnd = questionEnd(query)
	}
	edns, do := ednsOf(query)
	var qd, ar byte
	if qEnd > 0 {
		qd = 1
	}
	if edns {
		ar = 1
	}
	b = append(b, query[0], query[1], f2, f3, 0, qd, 0, 0, 0, 0, 0, ar)
	if qEnd > 0 {
		b = append(b, query[headerLen:qEnd]...)
	}
	if edns {
		b = appendOPT(b, do)
	}
	return b
}
