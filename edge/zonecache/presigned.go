package zonecache

// The index of a pre-signed zone (docs/ZONE_TRANSFERS.md, "Pre-signed
// DNSSEC"): a secondary zone whose primary signs it and transfers out its
// RRSIG, NSEC, NSEC3, NSEC3PARAM and DNSKEY records, which the edge serves
// as stored. Answering a negative question with DO needs the record of the
// primary's denial chain that matches or covers a name: the NSEC owners in
// canonical order (RFC 4034 6.1), or the NSEC3 owner hashes sorted (RFC 5155),
// indexed here once per zone version, never per query.

import (
	"bytes"
	"crypto/sha1"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Presigned indexes the DNSSEC records a pre-signed zone holds. Zone.Presigned
// is set by Build, BuildBytes and ApplyDelta when the zone's records include
// RRSIGs (only a primary's transfer brings them: the record API accepts no
// RRSIG), nil otherwise. It is immutable once built.
type Presigned struct {
	// nsec is every NSEC record, sorted by the canonical order of its owner.
	nsec []nsecEntry
	// nsec3 is the NSEC3 records made with the zone's parameters, sorted by
	// owner hash; iterations and salt are those parameters.
	nsec3      []nsec3Entry
	iterations uint16
	salt       []byte
	useNSEC3   bool
	hasNSEC3   bool
	// negSOASigs are the apex SOA's RRSIGs with the TTL of the negative SOA
	// (an RRSIG's TTL is its set's, RFC 4034 3), made once here so that a
	// denial copies nothing.
	negSOASigs []dns.RR
	problem    string
	// sets are every node's sets, decoded: a pre-signed zone (a secondary
	// zone, at most 20,000 records) answers from them without decoding
	// anything per answer (Zone.RRset), as its answers copy no signature.
	sets map[*Node][]RRset
}

// set returns n's decoded set of type t (nil when it has none), and false
// when n is not a node of the zone indexed.
func (p *Presigned) set(n *Node, t uint16) (*RRset, bool) {
	sets, ok := p.sets[n]
	if !ok {
		return nil, false
	}
	for i := range sets {
		if sets[i].Type == t {
			return &sets[i], true
		}
	}
	return nil, true
}

type nsecEntry struct {
	key  []byte // canonicalKey of the owner
	rr   *dns.NSEC
	node *Node
}

type nsec3Entry struct {
	hash [sha1.Size]byte
	rr   *dns.NSEC3
	node *Node
}

// HasNSEC3 reports whether the zone holds NSEC3 records (whether or not
// they are the chain used): their owners are names at the edge that must
// not exist for clients (HidesOwner).
func (p *Presigned) HasNSEC3() bool { return p.hasNSEC3 }

// UsesNSEC3 reports whether the zone denies with NSEC3: its apex holds an
// NSEC3PARAM with SHA-1 and NSEC3 records made with its parameters exist.
// Otherwise NSEC is used (when the zone has any).
func (p *Presigned) UsesNSEC3() bool { return p.useNSEC3 }

// NegSOASigs returns the RRSIGs covering the apex SOA, with the TTL of the
// SOA of negative answers (Zone.NegSOA).
func (p *Presigned) NegSOASigs() []dns.RR { return p.negSOASigs }

// Problem says what is wrong with the zone's DNSSEC records (no denial
// chain, unsigned sets, NSEC3 parameters that do not match), "" when
// nothing is. The zone is served whatever it says: validators then fail
// on what is missing, which is the primary's to fix. The node logs it once
// per zone version.
func (p *Presigned) Problem() string { return p.problem }

// NSEC returns the NSEC record that matches name (match true) or covers it
// (the one of the canonical predecessor of name, RFC 4035 3.1.3), and the
// node holding it; nil when the zone has no NSEC. With wildcard the name is
// "*." + name (the wildcard at a closest encloser), without building it.
// name is lower-case and fully qualified. It does not allocate.
func (p *Presigned) NSEC(name string, wildcard bool) (*dns.NSEC, *Node, bool) {
	if len(p.nsec) == 0 {
		return nil, nil, false
	}
	var buf [2*maxWireName + 4]byte
	key := canonicalKey(buf[:0], name)
	if wildcard {
		key = append(key, '*', 0)
	}
	// The last entry whose key is <= key; none: the last of the chain,
	// whose next name wraps around to the apex.
	lo, hi := 0, len(p.nsec)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(p.nsec[m].key, key) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i := lo - 1
	if i < 0 {
		i = len(p.nsec) - 1
	}
	e := &p.nsec[i]
	return e.rr, e.node, bytes.Equal(e.key, key)
}

// NSEC3 returns the NSEC3 record whose owner hash matches the hash of name
// (match true) or covers it (RFC 5155 7.2: the greatest hash below it,
// wrapping around), and the node holding it; nil when the zone has no
// NSEC3 chain or name cannot be hashed. With wildcard the name hashed is
// "*." + name. It does not allocate.
func (p *Presigned) NSEC3(name string, wildcard bool) (*dns.NSEC3, *Node, bool) {
	if len(p.nsec3) == 0 {
		return nil, nil, false
	}
	h, ok := p.hash(name, wildcard)
	if !ok {
		return nil, nil, false
	}
	lo, hi := 0, len(p.nsec3)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(p.nsec3[m].hash[:], h[:]) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i := lo - 1
	if i < 0 {
		i = len(p.nsec3) - 1
	}
	e := &p.nsec3[i]
	return e.rr, e.node, e.hash == h
}

// hash is the NSEC3 hash (RFC 5155 5) of name, or of "*." + name, with
// the zone's parameters; false for a name too long to hash.
func (p *Presigned) hash(name string, wildcard bool) ([sha1.Size]byte, bool) {
	var buf [maxWireName + 2 + 255]byte
	var w []byte
	if wildcard {
		w = append(buf[:0], 1, '*')
	} else {
		w = buf[:0]
	}
	w, ok := appendWire(w, name)
	if !ok || len(w) > maxWireName {
		return [sha1.Size]byte{}, false
	}
	h := sha1.Sum(append(w, p.salt...))
	for range p.iterations {
		w = append(append(buf[:0], h[:]...), p.salt...)
		h = sha1.Sum(w)
	}
	return h, true
}

// maxWireName is the longest name in wire form (RFC 1035 3.1).
const maxWireName = 255

// indexPresigned returns the index of z's DNSSEC records, or nil when z
// holds no RRSIG (not a pre-signed zone). It walks the whole zone: it runs
// once per zone version, only for pre-signed zones (secondary zones, at
// most 20,000 records, published as full snapshots), after the apex is
// synthesized.
func indexPresigned(z *Zone) *Presigned {
	p := &Presigned{sets: make(map[*Node][]RRset, z.Len())}
	var unsigned, badNSEC3, otherParams int
	signed := false
	var param *dns.NSEC3PARAM
	if s := z.Apex.Set(dns.TypeNSEC3PARAM); s != nil {
		for _, rr := range s.RRs {
			if v := rr.(*dns.NSEC3PARAM); v.Hash == dns.SHA1 && param == nil {
				param = v
			}
		}
	}
	if param != nil {
		p.iterations = param.Iterations
		if param.Salt != "" && param.Salt != "-" {
			s, err := hex.DecodeString(param.Salt)
			if err != nil {
				p.problem = joinProblem(p.problem, fmt.Sprintf("NSEC3PARAM salt %q is not hex", param.Salt))
				param = nil
			} else {
				p.salt = s
			}
		}
	}
	z.EachNode(func(n *Node) bool {
		sets := n.Sets()
		p.sets[n] = sets
		var rs *RRset
		for i := range sets {
			if sets[i].Type == dns.TypeRRSIG {
				rs = &sets[i]
			}
		}
		signed = signed || rs != nil
		if rs == nil && len(sets) > 0 && n != z.Apex && z.Lookup(n.Name, false).Kind != Delegation {
			unsigned += len(sets) // data above the cuts without any signature
		}
		for i := range sets {
			set := &sets[i]
			switch set.Type {
			case dns.TypeRRSIG:
				continue
			case dns.TypeNSEC:
				for _, rr := range set.RRs {
					p.nsec = append(p.nsec, nsecEntry{key: canonicalKey(nil, n.Name), rr: rr.(*dns.NSEC), node: n})
				}
			case dns.TypeNSEC3:
				p.hasNSEC3 = true
				for _, rr := range set.RRs {
					v := rr.(*dns.NSEC3)
					if param == nil || v.Hash != param.Hash || v.Iterations != param.Iterations || !strings.EqualFold(v.Salt, param.Salt) {
						otherParams++
						continue
					}
					h, ok := ownerHash(n.Name)
					if !ok {
						badNSEC3++
						continue
					}
					p.nsec3 = append(p.nsec3, nsec3Entry{hash: h, rr: v, node: n})
				}
			}
			// Sets the primary signs: everything at or above the cuts but
			// the delegations' NS (and glue, which is below a cut and has
			// no RRSIG set of its own, so it is not counted either way).
			if set.Type == dns.TypeNS && n.Delegation {
				continue
			}
			if (set.Type == dns.TypeSOA || set.Type == dns.TypeNS) && n == z.Apex {
				continue // synthesized from the header: checked below
			}
			if rs != nil && !covers(rs, set.Type) {
				unsigned++
			}
		}
		return true
	})
	if !signed {
		return nil
	}
	slices.SortFunc(p.nsec, func(a, b nsecEntry) int { return bytes.Compare(a.key, b.key) })
	slices.SortFunc(p.nsec3, func(a, b nsec3Entry) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	p.useNSEC3 = len(p.nsec3) > 0
	if rs := z.Apex.Set(dns.TypeRRSIG); rs != nil {
		for _, rr := range rs.RRs {
			if sig := rr.(*dns.RRSIG); sig.TypeCovered == dns.TypeSOA {
				c := *sig
				c.Hdr.Ttl = min(c.Hdr.Ttl, z.NegSOA.Hdr.Ttl)
				p.negSOASigs = append(p.negSOASigs, &c)
			}
		}
	}
	if len(p.negSOASigs) == 0 {
		p.problem = joinProblem(p.problem, "no RRSIG covers the SOA")
	}
	// The apex SOA and NS sets are the header's, not records: the SOA is
	// the primary's byte for byte, but the NS set is our name servers plus
	// the primary's, which the primary's signature covers only when it
	// lists exactly those. Checked once here so that the operator learns
	// why NS answers do not validate.
	for _, set := range []*RRset{z.Apex.Set(dns.TypeSOA), z.Apex.Set(dns.TypeNS)} {
		if set != nil && !apexVerifies(z, set) {
			p.problem = joinProblem(p.problem, fmt.Sprintf("the served apex %s set does not verify with the primary's RRSIG and DNSKEY (the primary must list exactly the zone's name servers)",
				dns.TypeToString[set.Type]))
		}
	}
	if len(p.nsec) == 0 && len(p.nsec3) == 0 {
		p.problem = joinProblem(p.problem, "no NSEC or NSEC3 chain: negative answers carry no proof")
	}
	if param != nil && len(p.nsec3) == 0 {
		p.problem = joinProblem(p.problem, "NSEC3PARAM but no NSEC3 record with its parameters")
	}
	if param == nil && otherParams > 0 {
		p.problem = joinProblem(p.problem, fmt.Sprintf("%d NSEC3 records but no SHA-1 NSEC3PARAM at the apex", otherParams))
	} else if otherParams > 0 {
		p.problem = joinProblem(p.problem, fmt.Sprintf("%d NSEC3 records with other parameters than the NSEC3PARAM's (ignored)", otherParams))
	}
	if badNSEC3 > 0 {
		p.problem = joinProblem(p.problem, fmt.Sprintf("%d NSEC3 owners are not a base32hex SHA-1 hash (ignored)", badNSEC3))
	}
	if unsigned > 0 {
		p.problem = joinProblem(p.problem, fmt.Sprintf("%d RRsets at signed names have no RRSIG", unsigned))
	}
	return p
}

// signedNodes reports whether any of the nodes a delta touched holds an
// RRSIG (ApplyDelta: a zone that becomes pre-signed by a delta).
func signedNodes(work map[string]*Node) bool {
	for _, n := range work {
		if n.Has(dns.TypeRRSIG) {
			return true
		}
	}
	return false
}

// apexVerifies reports whether one of the apex's RRSIGs over set verifies
// it with a DNSKEY of the apex; true when the apex has no DNSKEY or no
// RRSIG over the set (reported elsewhere, or nothing to check with).
func apexVerifies(z *Zone, set *RRset) bool {
	keys, sigs := z.Apex.Set(dns.TypeDNSKEY), z.Apex.Set(dns.TypeRRSIG)
	if keys == nil || sigs == nil || !covers(sigs, set.Type) {
		return true
	}
	for _, rr := range sigs.RRs {
		sig := rr.(*dns.RRSIG)
		if sig.TypeCovered != set.Type {
			continue
		}
		for _, k := range keys.RRs {
			if key := k.(*dns.DNSKEY); key.KeyTag() == sig.KeyTag && sig.Verify(key, set.RRs) == nil {
				return true
			}
		}
	}
	return false
}

func joinProblem(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// covers reports whether an RRSIG set holds a signature over type t.
func covers(rs *RRset, t uint16) bool {
	for _, rr := range rs.RRs {
		if rr.(*dns.RRSIG).TypeCovered == t {
			return true
		}
	}
	return false
}

var b32hex = base32.HexEncoding.WithPadding(base32.NoPadding)

// ownerHash decodes the first label of an NSEC3 owner name, the
// base32hex hash (RFC 5155 3).
func ownerHash(owner string) ([sha1.Size]byte, bool) {
	var h [sha1.Size]byte
	i := strings.IndexByte(owner, '.')
	if i != 32 { // 20 octets are 32 base32 characters
		return h, false
	}
	n, err := b32hex.Decode(h[:], []byte(strings.ToUpper(owner[:i])))
	return h, err == nil && n == sha1.Size
}

// canonicalKey appends to dst a key of name (presentation form, fully
// qualified, escapes allowed) whose byte order is the canonical order of
// names (RFC 4034 6.1): the labels from the rightmost, each label's octets
// lower-cased and compared as unsigned numbers, a label sorting before any
// longer label it starts. Each label is written with 0x00 and 0x01
// escaped (as 0x01 0x01 and 0x01 0x02) and ended by 0x00, which sorts below
// every written octet. It does not allocate when dst has room.
func canonicalKey(dst []byte, name string) []byte {
	var bounds [maxLabels][2]int
	n := labelBounds(name, &bounds)
	for j := n - 1; j >= 0; j-- {
		label := name[bounds[j][0]:bounds[j][1]]
		for i := 0; i < len(label); {
			var c byte
			c, i = octet(label, i)
			if c <= 1 {
				dst = append(dst, 1, c+1)
			} else {
				dst = append(dst, c)
			}
		}
		dst = append(dst, 0)
	}
	return dst
}

// labelBounds stores the start and end of each label of name (presentation
// form; the root has none) and returns their number (at most maxLabels).
func labelBounds(name string, b *[maxLabels][2]int) int {
	n, start := 0, 0
	for i := 0; i < len(name) && n < maxLabels; i++ {
		switch name[i] {
		case '\\':
			i++ // the escaped character (or the first digit of \DDD) is not a dot
		case '.':
			if i > start {
				b[n] = [2]int{start, i}
				n++
			}
			start = i + 1
		}
	}
	if start < len(name) && n < maxLabels { // not fully qualified
		b[n] = [2]int{start, len(name)}
		n++
	}
	return n
}

// appendWire appends the wire form of name (lower-cased), root label
// included; false when a label is longer than 63 octets.
func appendWire(dst []byte, name string) ([]byte, bool) {
	var bounds [maxLabels][2]int
	n := labelBounds(name, &bounds)
	for j := range n {
		label := name[bounds[j][0]:bounds[j][1]]
		lenAt := len(dst)
		dst = append(dst, 0)
		for i := 0; i < len(label); {
			var c byte
			c, i = octet(label, i)
			dst = append(dst, c)
		}
		l := len(dst) - lenAt - 1
		if l > 63 {
			return dst, false
		}
		dst[lenAt] = byte(l)
	}
	return append(dst, 0), true
}

// octet decodes the octet of a label in presentation form at i (\DDD and
// \X escapes), lower-cased, and returns it with the index after it.
func octet(label string, i int) (byte, int) {
	c := label[i]
	if c == '\\' && i+1 < len(label) {
		if i+3 < len(label) && isDigit(label[i+1]) && isDigit(label[i+2]) && isDigit(label[i+3]) {
			c = (label[i+1]-'0')*100 + (label[i+2]-'0')*10 + (label[i+3] - '0')
			i += 3
		} else {
			i++
			c = label[i]
		}
	}
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	return c, i + 1
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
