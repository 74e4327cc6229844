package dnsserver

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"
)

// Raw packets for the error paths, built by hand: dns.Msg cannot pack most
// of them (a QDCOUNT that lies, a truncated option, a misplaced OPT).

const testID = 0xbeef

// hdr is a query header: id testID, the two flag bytes, the four counts.
func hdr(f2, f3 byte, qd, an, ns, ar uint16) []byte {
	b := []byte{testID >> 8, testID & 0xff, f2, f3}
	for _, c := range []uint16{qd, an, ns, ar} {
		b = binary.BigEndian.AppendUint16(b, c)
	}
	return b
}

// question is www.example.com A IN, spelt as given (3, 7 and 3 letters).
func question(name ...string) []byte {
	if len(name) == 0 {
		name = []string{"www", "example", "com"}
	}
	var b []byte
	for _, l := range name {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0, 0, 1, 0, 1)
}

// optRR is an OPT record owned by owner (wire form), UDP size 1232,
// version 0, the DO bit as given, with rdata as given (its length from
// rdlen, -1 meaning len(rdata)).
func optRR(owner []byte, do bool, rdlen int, rdata ...byte) []byte {
	if rdlen < 0 {
		rdlen = len(rdata)
	}
	var flags byte
	if do {
		flags = 0x80
	}
	b := append([]byte(nil), owner...)
	b = append(b, 0, 41, 0x04, 0xd0, 0, 0, flags, 0, byte(rdlen>>8), byte(rdlen))
	return append(b, rdata...)
}

var root = []byte{0}

// cookie is a COOKIE option of n bytes.
func cookie(n int) []byte {
	b := []byte{0, 10, byte(n >> 8), byte(n)}
	for i := range n {
		b = append(b, byte(i+1))
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// aRR is an A record for the question's name (a pointer to offset 12).
var aRR = []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1}

const (
	opNotify = dns.OpcodeNotify << 3
	opUpdate = dns.OpcodeUpdate << 3
	opIQuery = dns.OpcodeIQuery << 3
	opStatus = dns.OpcodeStatus << 3
	// Every flag a query could carry in byte 2 (AA, TC, RD) and byte 3
	// (RA, Z, AD, CD).
	allFlags2 = flagAA | flagTC | flagRD
	allFlags3 = 0x80 | 0x40 | 0x20 | flagCD
)

type wireCase struct {
	name  string
	query []byte
	rcode int
	// question: the reply echoes the query's question; opt: it carries
	// our OPT (with do: the DO bit).
	question, opt, do bool
	// flags2 and flags3 are the reply's flag bytes without QR, opcode
	// and rcode.
	flags2, flags3 byte
}

func wireErrorCases() []wireCase {
	q := question()
	return []wireCase{
		// QDCOUNT (RFC 1035 4.1.2; one question is all a QUERY can ask).
		{name: "no question is formerr", query: hdr(0, 0, 0, 0, 0, 0), rcode: dns.RcodeFormatError},
		{name: "qdcount 1 with no question bytes is formerr", query: hdr(0, 0, 1, 0, 0, 0), rcode: dns.RcodeFormatError},
		{name: "qdcount 2 with one question present is formerr", query: cat(hdr(0, 0, 2, 0, 0, 0), q), rcode: dns.RcodeFormatError},
		{name: "two questions are formerr without a question", query: cat(hdr(0, 0, 2, 0, 0, 0), q, q), rcode: dns.RcodeFormatError},
		{name: "two questions with edns are formerr with opt", query: cat(hdr(0, 0, 2, 0, 0, 1), q, q, optRR(root, false, -1)),
			rcode: dns.RcodeFormatError, opt: true},
		{name: "truncated question is formerr", query: cat(hdr(0, 0, 1, 0, 0, 0), q[:len(q)-3]), rcode: dns.RcodeFormatError},
		{name: "compression loop in the question is formerr", query: cat(hdr(0, 0, 1, 0, 0, 0), []byte{0xc0, 12, 0, 1, 0, 1}),
			rcode: dns.RcodeFormatError},

		// The OPT record (RFC 6891 6.1.1, 6.1.2, 7).
		{name: "two opt records are formerr with opt", query: cat(hdr(0, 0, 1, 0, 0, 2), q, optRR(root, true, -1), optRR(root, false, -1)),
			rcode: dns.RcodeFormatError, question: true, opt: true, do: true},
		{name: "opt in the answer section is formerr", query: cat(hdr(0, 0, 1, 1, 0, 0), q, optRR(root, false, -1)),
			rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "opt in the authority section is formerr", query: cat(hdr(0, 0, 1, 0, 1, 0), q, optRR(root, false, -1)),
			rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "opt with a non-root owner is formerr", query: cat(hdr(0, 0, 1, 0, 0, 1), q, optRR([]byte{1, 'a', 0}, false, -1)),
			rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "option running past the opt rdata is formerr", query: cat(hdr(0, 0, 1, 0, 0, 1), q, optRR(root, true, -1, cookie(8)[:8]...)),
			rcode: dns.RcodeFormatError, question: true, opt: true, do: true},
		{name: "option header cut short is formerr", query: cat(hdr(0, 0, 1, 0, 0, 1), q, optRR(root, false, -1, 0, 10)),
			rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "opt rdata running past the packet is formerr", query: cat(hdr(0, 0, 1, 0, 0, 1), q, optRR(root, false, 20, cookie(8)...)),
			rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "unknown edns version is badvers before the options", query: cat(hdr(0, 0, 1, 0, 0, 1), q,
			func() []byte { o := optRR(root, false, -1, cookie(3)...); o[6] = 1; return o }()),
			rcode: dns.RcodeBadVers, question: true, opt: true},

		// COOKIE lengths (RFC 7873 4, 5.2.2): 8, or 8 + 8..32.
		{name: "cookie of 0 bytes is formerr", query: cookieQuery(0), rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "client cookie of 7 bytes is formerr", query: cookieQuery(7), rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "server cookie of 1 byte is formerr", query: cookieQuery(9), rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "server cookie of 7 bytes is formerr", query: cookieQuery(15), rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "server cookie of 33 bytes is formerr", query: cookieQuery(41), rcode: dns.RcodeFormatError, question: true, opt: true},
		{name: "client cookie alone is answered", query: cookieQuery(8), rcode: dns.RcodeSuccess, question: true, opt: true, flags2: flagAA},
		{name: "server cookie of 8 bytes is answered", query: cookieQuery(16), rcode: dns.RcodeSuccess, question: true, opt: true, flags2: flagAA},
		{name: "server cookie of 32 bytes is answered", query: cookieQuery(40), rcode: dns.RcodeSuccess, question: true, opt: true, flags2: flagAA},

		// Flags of a FORMERR to a QUERY: RD and CD copied, as in answers.
		{name: "formerr copies rd and cd only", query: cat(hdr(allFlags2, allFlags3, 1, 0, 0, 1), q, optRR(root, false, -1, cookie(9)...)),
			rcode: dns.RcodeFormatError, question: true, opt: true, flags2: flagRD, flags3: flagCD},
		{name: "formerr echoes the question's case", query: cat(hdr(0, 0, 1, 0, 0, 2), question("WwW", "Example", "COM"), optRR(root, false, -1), optRR(root, false, -1)),
			rcode: dns.RcodeFormatError, question: true, opt: true},

		// Other opcodes: NOTIMP, and no flag of QUERY's.
		{name: "notify is notimp without query flags", query: cat(hdr(opNotify|allFlags2, allFlags3, 1, 0, 0, 0), q),
			rcode: dns.RcodeNotImplemented, question: true},
		{name: "notify with edns is notimp with opt", query: cat(hdr(opNotify|flagAA, 0, 1, 0, 0, 1), q, optRR(root, true, -1)),
			rcode: dns.RcodeNotImplemented, question: true, opt: true, do: true},
		{name: "update is notimp without query flags", query: cat(hdr(opUpdate|allFlags2, allFlags3, 1, 0, 1, 0), question("example", "com"), aRR),
			rcode: dns.RcodeNotImplemented, question: true},
		{name: "iquery is notimp without query flags", query: cat(hdr(opIQuery|flagRD, flagCD, 0, 1, 0, 0), question()[:0], []byte{0}, aRR[2:]),
			rcode: dns.RcodeNotImplemented},
		{name: "status is notimp without query flags", query: cat(hdr(opStatus|flagRD, 0, 0, 0, 0, 0)),
			rcode: dns.RcodeNotImplemented},
		{name: "unparsable notify is formerr without query flags", query: cat(hdr(opNotify|flagRD, flagCD, 1, 0, 0, 0), q[:4]),
			rcode: dns.RcodeFormatError},
	}
}

func cookieQuery(n int) []byte {
	return cat(hdr(0, 0, 1, 0, 0, 1), question(), optRR(root, false, -1, cookie(n)...))
}

func TestWireErrors(t *testing.T) {
	for _, ready := range []bool{true, false} {
		h := testHandler(t)
		h.SetReady(ready)
		for _, tt := range wireErrorCases() {
			if !ready && tt.rcode == dns.RcodeSuccess {
				continue // SERVFAIL until ready, as tested elsewhere
			}
			t.Run(tt.name, func(t *testing.T) {
				b := h.Serve(context.Background(), tt.query, false, nil)
				if b == nil {
					t.Fatal("dropped, want an answer")
				}
				checkWireReply(t, tt, b)
				// Never an amplifier: an error reply is no longer than the
				// query.
				if tt.rcode != dns.RcodeSuccess && len(b) > len(tt.query) {
					t.Errorf("reply of %d bytes to a query of %d", len(b), len(tt.query))
				}
			})
		}
	}
}

func checkWireReply(t *testing.T, tt wireCase, b []byte) {
	t.Helper()
	if id := binary.BigEndian.Uint16(b); id != testID {
		t.Errorf("id %#x, want %#x", id, testID)
	}
	opcode := tt.query[2] & opcodeMask
	if got, want := b[2], flagQR|opcode|tt.flags2; got != want {
		t.Errorf("flags byte 2 = %08b, want %08b (QR, opcode %d)", got, want, opcode>>3)
	}
	rcode := tt.rcode & 0x0f
	if got, want := b[3], tt.flags3|byte(rcode); got != want {
		t.Errorf("flags byte 3 = %08b, want %08b", got, want)
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	if r.Rcode != tt.rcode {
		t.Errorf("rcode %s, want %s", rcodeLabel(r.Rcode), rcodeLabel(tt.rcode))
	}
	if tt.question {
		qEnd := questionEnd(tt.query)
		if len(r.Question) != 1 || len(b) < qEnd || string(b[headerLen:qEnd]) != string(tt.query[headerLen:qEnd]) {
			t.Errorf("question not echoed as sent: %v", r.Question)
		}
	} else if len(r.Question) != 0 {
		t.Errorf("question echoed: %v", r.Question)
	}
	opt := r.IsEdns0()
	switch {
	case tt.opt && opt == nil:
		t.Errorf("no OPT in the reply to an EDNS query")
	case !tt.opt && opt != nil:
		t.Errorf("OPT in the reply to a query without EDNS")
	case opt != nil && (opt.Do() != tt.do || opt.UDPSize() != EDNSBufferSize || len(opt.Option) != 0):
		t.Errorf("OPT %v, want ours with DO=%v", opt, tt.do)
	}
	if tt.rcode != dns.RcodeSuccess && len(r.Answer)+len(r.Ns) != 0 {
		t.Errorf("records in an error reply: %v", r)
	}
}

func TestRcodeLabels(t *testing.T) {
	for rc, want := range map[int]string{
		dns.RcodeSuccess: "NOERROR", dns.RcodeFormatError: "FORMERR", dns.RcodeNotImplemented: "NOTIMP",
		dns.RcodeBadVers: "BADVERS", 4095: "OTHER",
	} {
		if got := rcodeLabel(rc); got != want {
			t.Errorf("rcodeLabel(%d) = %q, want %q", rc, got, want)
		}
	}
}

// TestErrorRepliesAllocateNothing: FORMERR for a bad cookie goes through
// the full parser (its allocations), but building the reply itself adds
// none.
func TestErrorRepliesAllocateNothing(t *testing.T) {
	q := cookieQuery(9)
	out := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { appendError(out[:0], q, dns.RcodeFormatError) }); n != 0 {
		t.Errorf("appendError: %v allocations", n)
	}
}

func BenchmarkServeFormErr(b *testing.B) {
	benchServe(b, nil, cat(hdr(0, 0, 2, 0, 0, 0), question(), question()))
}
