package zonecache

import (
	"encoding/binary"
	"unsafe"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/managed"
)

// A node keeps its records in wire form, one string a node (Node.data),
// and decodes them into dns.RRs only when asked (Set, Sets): on a miss of
// the edge's packed-answer cache, for a transfer, for a delta. Decoded
// sets, their record slices and the per-record entries they were derived
// from cost about 175 bytes a record of a million-record zone; the packed
// form of an A record is 30 bytes (docs/BENCHMARKS.md, "Records in wire
// form").
//
// Each record is, in this order:
//
//	id       16 bytes  the snapshot record id (idKey), zero for synth
//	flags     1 byte   flagProxied, flagFlatten, flagDup, flagSynth
//	managed   1 byte   managed.Product of a proxied record
//	type      2 bytes  big endian
//	ttl       4 bytes  big endian
//	rdlength  2 bytes  big endian
//	rdata             uncompressed, as dns.PackRR writes it
//
// The owner is the node's name and the class is IN: neither is stored.
const (
	offFlags   = 16
	offManaged = 17
	offType    = 18
	offTTL     = 20
	offRdlen   = 24
	recHdrLen  = 26
)

const (
	flagProxied = 1 << iota
	flagFlatten
	// flagDup marks a record that duplicates an earlier one of its set
	// (dns.IsDuplicate): kept for the delta that deletes the earlier one,
	// never served.
	flagDup
	// flagSynth marks the apex SOA and NS records synthesized from the
	// header (synthesizeApex): not snapshot records, no id.
	flagSynth
)

// packedRec is a view of one record inside a node's data.
type packedRec struct {
	d   string
	off int
}

func (r packedRec) id() (k idKey) {
	copy(k[:], r.d[r.off:r.off+len(k)])
	return k
}
func (r packedRec) flags() byte              { return r.d[r.off+offFlags] }
func (r packedRec) managed() managed.Product { return managed.Product(r.d[r.off+offManaged]) }
func (r packedRec) rrtype() uint16 {
	return uint16(r.d[r.off+offType])<<8 | uint16(r.d[r.off+offType+1])
}
func (r packedRec) ttl() uint32 {
	o := r.off + offTTL
	return uint32(r.d[o])<<24 | uint32(r.d[o+1])<<16 | uint32(r.d[o+2])<<8 | uint32(r.d[o+3])
}
func (r packedRec) rdlen() int {
	return int(r.d[r.off+offRdlen])<<8 | int(r.d[r.off+offRdlen+1])
}
func (r packedRec) rdata() string { return r.d[r.off+recHdrLen : r.end()] }
func (r packedRec) end() int      { return r.off + recHdrLen + r.rdlen() }

// served reports whether the record is one of its set's (not a duplicate).
func (r packedRec) served() bool { return r.flags()&flagDup == 0 }

// raw is the whole encoded record.
func (r packedRec) raw() string { return r.d[r.off:r.end()] }

// each calls fn for every record of data in order until fn returns false.
func each(data string, fn func(packedRec) bool) {
	for off := 0; off < len(data); {
		r := packedRec{data, off}
		if !fn(r) {
			return
		}
		off = r.end()
	}
}

// appendRecord encodes one record onto dst.
func appendRecord(dst []byte, id idKey, flags byte, m managed.Product, rrtype uint16, ttl uint32, rdata []byte) []byte {
	dst = append(dst, id[:]...)
	dst = append(dst, flags, byte(m))
	dst = binary.BigEndian.AppendUint16(dst, rrtype)
	dst = binary.BigEndian.AppendUint32(dst, ttl)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(rdata)))
	return append(dst, rdata...)
}

// rawRdata reports whether the rdata of a record of type t is the same
// bytes in the snapshot and as served: no name in it that could be
// compressed or that unpackRecord rewrites.
func rawRdata(t uint16) bool {
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeTXT:
		return true
	}
	return false
}

// encodeRecord returns the encoded form of r (decoded from wire, whose
// rdata it reuses when it can) with scratch as the packing buffer.
func encodeRecord(r record, wire []byte, scratch []byte) (string, []byte, error) {
	hdr := r.rr.Header()
	var rdata []byte
	if end := r.end; rawRdata(hdr.Rrtype) && int(hdr.Rdlength) <= end && end <= len(wire) {
		rdata = wire[r.end-int(hdr.Rdlength) : r.end]
	} else {
		// Room for the usual record; a large one (TXT aside, which does
		// not get here: long keys, certificates) is packed again in room
		// for any.
		if cap(scratch) < 4096 {
			scratch = make([]byte, 4096)
		}
		scratch = scratch[:cap(scratch)]
		off, err := dns.PackRR(r.rr, scratch, 0, nil, false)
		if err != nil && len(scratch) < dns.MaxMsgSize {
			scratch = make([]byte, dns.MaxMsgSize)
			off, err = dns.PackRR(r.rr, scratch, 0, nil, false)
		}
		if err != nil {
			return "", scratch, err
		}
		rdata = scratch[off-int(r.rr.Header().Rdlength) : off]
	}
	var flags byte
	if r.proxied {
		flags |= flagProxied
	}
	if r.flatten {
		flags |= flagFlatten
	}
	var buf [recHdrLen + 64]byte
	b := appendRecord(buf[:0], r.id, flags, r.managed, hdr.Rrtype, hdr.Ttl, rdata)
	return string(b), scratch, nil
}

// bytesOf returns the bytes of s without a copy, for dns unpacking, which
// only reads them (every unpack function copies what it keeps).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// unsafeString is b as a string without a copy, for reading records in a
// buffer being edited (the string must not outlive the next edit).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// decode unpacks one record owned by owner.
func (r packedRec) decode(owner string) (dns.RR, error) {
	h := dns.RR_Header{Name: owner, Rrtype: r.rrtype(), Class: dns.ClassINET, Ttl: r.ttl(), Rdlength: uint16(r.rdlen())}
	rr, _, err := dns.UnpackRRWithHeader(h, bytesOf(r.d[:r.end()]), r.off+recHdrLen)
	return rr, err
}

// Set returns the RRset of type t, its records decoded (copies the caller
// may keep and modify), or nil when the node has none.
func (n *Node) Set(t uint16) *RRset {
	var s RRset
	if !n.set(t, &s, true) {
		return nil
	}
	return &s
}

// Info returns the set of type t without its records (RRs nil): its
// attributes and whether it exists, without decoding anything.
func (n *Node) Info(t uint16) (RRset, bool) {
	var s RRset
	ok := n.set(t, &s, false)
	return s, ok
}

// Has reports whether the node holds records of type t.
func (n *Node) Has(t uint16) bool {
	for off := 0; off < len(n.data); {
		r := packedRec{n.data, off}
		if r.rrtype() == t {
			return true
		}
		off = r.end()
	}
	return false
}

// Proxied reports whether any record of the node is proxied: without one,
// no set of it is (Info), and the proxy rules need not look further.
func (n *Node) Proxied() bool { return n.proxied }

// Empty reports whether the node holds no record (an empty non-terminal).
func (n *Node) Empty() bool { return n.data == "" }

// set fills s with the set of type t; with decode, its records too.
func (n *Node) set(t uint16, s *RRset, decode bool) bool {
	count, first := 0, 0
	for off := 0; off < len(n.data); {
		r := packedRec{n.data, off}
		off = r.end()
		if r.rrtype() != t || !r.served() {
			continue
		}
		if count == 0 {
			first = r.off
		}
		ttl := r.ttl()
		if count == 0 || ttl < s.MinTTL {
			s.MinTTL = ttl
		}
		count++
		f := r.flags()
		if f&flagProxied != 0 {
			s.Proxied = true
			s.Managed = s.Managed.With(r.managed())
		}
		if f&flagFlatten != 0 {
			s.Flatten = true
		}
	}
	if count == 0 {
		return false
	}
	s.Type = t
	if !decode {
		return true
	}
	if count == 1 {
		s.RRs = packedRec{n.data, first}.decodeOne(n.Name)
		return true
	}
	s.RRs = n.decodeSet(t, count)
	return true
}

// Holds reports whether rrs are the node's set of type t as stored: the
// same records in the same order, with the node's name as owner and the
// stored TTLs (not a set made for one answer from it).
func (n *Node) Holds(t uint16, rrs []dns.RR) bool {
	i := 0
	ok := true
	each(n.data, func(r packedRec) bool {
		if r.rrtype() != t || !r.served() {
			return true
		}
		if i >= len(rrs) {
			ok = false
			return false
		}
		h := rrs[i].Header()
		if h.Name != n.Name || h.Rrtype != t || h.Class != dns.ClassINET || h.Ttl != r.ttl() {
			ok = false
			return false
		}
		if !r.sameRecord(n.Name, rrs[i]) {
			ok = false
			return false
		}
		i++
		return true
	})
	return ok && i == len(rrs) && i > 0
}

// The common records are decoded without dns.UnpackRRWithHeader (which
// allocates its header besides the record): an address is one allocation
// with its bytes inside, a one-record set of it one with its slice too.
type aBox struct {
	rr  dns.A
	ip  [4]byte
	rrs [1]dns.RR
}

type aaaaBox struct {
	rr  dns.AAAA
	ip  [16]byte
	rrs [1]dns.RR
}

type cnameBox struct {
	rr  dns.CNAME
	rrs [1]dns.RR
}

// decodeSet returns the records of a set of count records of type t.
func (n *Node) decodeSet(t uint16, count int) []dns.RR {
	var out []dns.RR
	each(n.data, func(r packedRec) bool {
		if r.rrtype() != t || !r.served() {
			return true
		}
		if count == 1 {
			out = r.decodeOne(n.Name)
			return false
		}
		if out == nil {
			out = make([]dns.RR, 0, count)
		}
		out = append(out, r.decodeOne(n.Name)[0])
		return true
	})
	return out
}

// decodeOne returns the record as a one-record slice.
func (r packedRec) decodeOne(owner string) []dns.RR {
	h := dns.RR_Header{Name: owner, Rrtype: r.rrtype(), Class: dns.ClassINET, Ttl: r.ttl(), Rdlength: uint16(r.rdlen())}
	switch rd := r.rdata(); {
	case h.Rrtype == dns.TypeA && len(rd) == 4:
		b := &aBox{rr: dns.A{Hdr: h}}
		copy(b.ip[:], rd)
		b.rr.A = b.ip[:]
		b.rrs[0] = &b.rr
		return b.rrs[:]
	case h.Rrtype == dns.TypeAAAA && len(rd) == 16:
		b := &aaaaBox{rr: dns.AAAA{Hdr: h}}
		copy(b.ip[:], rd)
		b.rr.AAAA = b.ip[:]
		b.rrs[0] = &b.rr
		return b.rrs[:]
	case h.Rrtype == dns.TypeCNAME:
		if target, ok := plainName(rd); ok {
			b := &cnameBox{rr: dns.CNAME{Hdr: h, Target: target}}
			b.rrs[0] = &b.rr
			return b.rrs[:]
		}
	}
	rr, err := r.decode(owner)
	if err != nil {
		// Only data that unpacked at load was encoded: unreachable.
		panic("zonecache: stored record does not unpack: " + err.Error())
	}
	return []dns.RR{rr}
}

// plainName returns the presentation form of an uncompressed wire name
// whose labels need no escaping (letters, digits, '-', '_', '*'), with one
// allocation; false for any other name (dns.UnpackDomainName's job).
func plainName(wire string) (string, bool) {
	if wire == "\x00" {
		return ".", true
	}
	n := 0
	for i := 0; ; {
		if i >= len(wire) {
			return "", false
		}
		l := int(wire[i])
		if l == 0 {
			if i+1 != len(wire) {
				return "", false
			}
			break
		}
		if l > 63 || i+1+l > len(wire) {
			return "", false
		}
		for _, c := range []byte(wire[i+1 : i+1+l]) {
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '*', 'A' <= c && c <= 'Z':
			default:
				return "", false
			}
		}
		n += l + 1
		i += l + 1
	}
	b := make([]byte, 0, n)
	for i := 0; wire[i] != 0; i += int(wire[i]) + 1 {
		b = append(b, wire[i+1:i+1+int(wire[i])]...)
		b = append(b, '.')
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// sameRecord reports whether rr has the record's rdata; it decodes only
// types other than A, AAAA and CNAME.
func (r packedRec) sameRecord(owner string, rr dns.RR) bool {
	rd := r.rdata()
	switch v := rr.(type) {
	case *dns.A:
		return len(v.A) == 4 && string(v.A) == rd || len(v.A) == 16 && string(v.A.To4()) == rd
	case *dns.AAAA:
		return len(v.AAAA) == 16 && string(v.AAAA) == rd
	case *dns.CNAME:
		var buf [maxWireName + 1]byte
		end, err := dns.PackDomainName(v.Target, buf[:], 0, nil, false)
		return err == nil && string(buf[:end]) == rd
	}
	o, err := r.decode(owner)
	return err == nil && dns.IsDuplicate(o, rr)
}

// Types appends the node's types to t, in the order of their first
// record (the order Sets returns them in).
func (n *Node) Types(t []uint16) []uint16 {
	start := len(t)
	each(n.data, func(r packedRec) bool {
		rt := r.rrtype()
		for _, x := range t[start:] {
			if x == rt {
				return true
			}
		}
		t = append(t, rt)
		return true
	})
	return t
}

// Sets returns every set of the node with its records decoded, in the
// order of their first record (the apex's SOA and NS last). For readers of
// whole nodes (transfers, the pre-signed index); the query path asks for
// the sets it needs with Set.
func (n *Node) Sets() []RRset {
	var buf [8]uint16
	types := n.Types(buf[:0])
	if len(types) == 0 {
		return nil
	}
	out := make([]RRset, len(types))
	for i, t := range types {
		n.set(t, &out[i], true)
	}
	return out
}

// derive sets the node's duplicate flags and delegation flag from its
// records, leaving the data shared when nothing changed.
func (n *Node) derive(zone string) {
	n.Delegation, n.proxied = false, false
	var changed []byte
	each(n.data, func(r packedRec) bool {
		t := r.rrtype()
		if t == dns.TypeNS && r.flags()&flagSynth == 0 && n.Name != zone {
			n.Delegation = true
		}
		if r.flags()&flagProxied != 0 {
			n.proxied = true
		}
		dup := false
		if r.flags()&flagSynth == 0 {
			each(n.data[:r.off], func(o packedRec) bool {
				if o.rrtype() == t && o.served() && o.flags()&flagSynth == 0 && sameRdata(n.Name, o, r) {
					dup = true
				}
				return !dup
			})
		}
		if dup != !r.served() {
			if changed == nil {
				changed = []byte(n.data)
			}
			changed[r.off+offFlags] ^= flagDup
		}
		return true
	})
	if changed != nil {
		n.data = string(changed)
	}
}

// sameRdata is dns.IsDuplicate for two records of one type at one name:
// equal rdata, or rdata whose names differ only in letter case.
func sameRdata(owner string, a, b packedRec) bool {
	x, y := a.rdata(), b.rdata()
	if x == y {
		return true
	}
	if len(x) != len(y) || rawRdata(a.rrtype()) || !asciiEqualFold(x, y) {
		return false
	}
	ra, err1 := a.decode(owner)
	rb, err2 := b.decode(owner)
	return err1 == nil && err2 == nil && dns.IsDuplicate(ra, rb)
}

func asciiEqualFold(a, b string) bool {
	for i := range len(a) {
		c, d := a[i], b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// withoutSynth returns data without the synthesized apex records.
func withoutSynth(data string) string {
	keep := true
	each(data, func(r packedRec) bool {
		keep = r.flags()&flagSynth == 0
		return keep
	})
	if keep {
		return data
	}
	var b []byte
	each(data, func(r packedRec) bool {
		if r.flags()&flagSynth == 0 {
			b = append(b, r.raw()...)
		}
		return true
	})
	return string(b)
}

// appendSynth encodes a synthesized record (apex SOA or NS) onto dst, with
// scratch (room for one record of two names) as the packing buffer.
func appendSynth(dst, scratch []byte, rr dns.RR) []byte {
	off, err := dns.PackRR(rr, scratch, 0, nil, false)
	if err != nil {
		// A header's SOA and NS always pack: checkHeader refused every
		// header whose records do not (checkApex); dropping one would be
		// worse than a visible crash.
		panic("zonecache: synthesized apex record does not pack: " + err.Error())
	}
	h := rr.Header()
	return appendRecord(dst, idKey{}, flagSynth, 0, h.Rrtype, h.Ttl, scratch[off-int(h.Rdlength):off])
}

// synthScratch is room for the apex SOA: three names and 30 bytes.
const synthScratch = 3*(maxWireName+1) + 64
