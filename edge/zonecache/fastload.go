package zonecache

import (
	"encoding/binary"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
)

// fastRecord is unpackRecord followed by encodeRecord for the records most
// of a large zone is made of: A, AAAA, TXT, and outside partial zones
// CNAME and MX with a plain target, at a plain owner name
// (lower-case letters, digits, '-', '_', '*', no compression pointer), with
// well-formed rdata. Their rdata is stored as it is, so nothing needs
// dns.UnpackRR's decoded record (which allocates the record, its name and
// its rdata, all garbage once the record is packed again): at a million
// records that was half of the loading workers' time.
//
// ok is false for anything else, and then the caller takes the general
// path, which also produces every error: the fast path only accepts what
// that path accepts and never rejects anything itself, so what is refused
// (and how) does not depend on which path a record took.
func fastRecord(zone, suffix string, w wireRecord) (enc, owner string, id idKey, ok bool) {
	b := w.rr
	if len(w.id) == 0 {
		return "", "", id, false
	}
	// The owner, as UnpackDomainName would write it: plain labels are
	// copied as they are (no byte of them is escaped).
	var name [maxWireName + 1]byte
	n, off := 0, 0
	for {
		if off >= len(b) {
			return "", "", id, false
		}
		l := int(b[off])
		off++
		if l == 0 {
			break
		}
		if l > dnsname.MaxLabelLen || off+l > len(b) || n+l+1 > dnsname.MaxNameLen+1 {
			return "", "", id, false
		}
		for _, c := range b[off : off+l] {
			if !plainOwnerByte(c) {
				return "", "", id, false
			}
		}
		n += copy(name[n:], b[off:off+l])
		name[n] = '.'
		n++
		off += l
	}
	if n == 0 || off+10 > len(b) {
		return "", "", id, false
	}
	rrtype := binary.BigEndian.Uint16(b[off:])
	ttl := binary.BigEndian.Uint32(b[off+4:])
	rdlen := int(binary.BigEndian.Uint16(b[off+8:]))
	off += 10
	if off+rdlen > len(b) {
		return "", "", id, false
	}
	rdata := b[off : off+rdlen]
	switch rrtype {
	case dns.TypeA:
		ok = rdlen == 4
	case dns.TypeAAAA:
		ok = rdlen == 16
	case dns.TypeTXT:
		ok = wellFormedTXT(rdata)
	case dns.TypeCNAME:
		// The general path lower-cases the target and, in a partial
		// zone, renames it: a plain target outside partial zones is
		// packed again as it is.
		ok = suffix == "" && plainWireName(rdata)
	case dns.TypeMX:
		ok = suffix == "" && rdlen > 2 && plainWireName(rdata[2:])
	}
	if !ok {
		return "", "", id, false
	}
	// The checks of unpackRecord, on the same text; a failure goes to it
	// for its error.
	owner = string(name[:n])
	if norm, err := normalize(owner); err != nil || norm != owner || !dnsname.IsSubdomain(owner, zone) {
		return "", "", id, false
	}
	owner += suffix
	var flags byte
	if w.proxied {
		flags |= flagProxied
	}
	if w.flatten {
		flags |= flagFlatten
	}
	id = keyOf(w.id)
	var buf [recHdrLen + 64]byte
	return string(appendRecord(buf[:0], id, flags, w.managed, rrtype, ttl, rdata)), owner, id, true
}

// plainWireName reports whether b is exactly one uncompressed domain name
// (not the root) of plain labels (plainOwnerByte), within the limits the
// owner is held to: what dns.UnpackRR reads as it is and dns.PackRR writes
// back byte for byte.
func plainWireName(b []byte) bool {
	n, off := 0, 0
	for {
		if off >= len(b) {
			return false
		}
		l := int(b[off])
		off++
		if l == 0 {
			return n > 0 && off == len(b)
		}
		if l > dnsname.MaxLabelLen || off+l > len(b) || n+l+1 > dnsname.MaxNameLen+1 {
			return false
		}
		for _, c := range b[off : off+l] {
			if !plainOwnerByte(c) {
				return false
			}
		}
		n += l + 1
		off += l
	}
}

// plainOwnerByte reports whether c may be in an owner label taken as it is:
// a byte normalize keeps and UnpackDomainName does not escape.
func plainOwnerByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '*'
}

// wellFormedTXT reports whether rdata is one or more character strings that
// fill it exactly, which is what dns.UnpackRR accepts for a TXT record (the
// empty rdata it also accepts goes the general way).
func wellFormedTXT(rdata []byte) bool {
	if len(rdata) == 0 {
		return false
	}
	for off := 0; off < len(rdata); {
		off += 1 + int(rdata[off])
		if off > len(rdata) {
			return false
		}
	}
	return true
}
