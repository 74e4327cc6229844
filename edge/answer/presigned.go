package answer

// Pre-signed zones (docs/ZONE_TRANSFERS.md, "Pre-signed DNSSEC"): a
// secondary zone whose primary signs it. "Cloudflare then serves these
// records and signatures as is, without doing any signing." The zone holds
// the primary's RRSIG, NSEC, NSEC3, NSEC3PARAM and DNSKEY records as
// transferred; zonecache.Presigned indexes its denial chain when the
// version is loaded. With DO, the engine makes the answer as always, then
// presign adds what the primary signed: after each RRset of the answer and
// authority sections the stored RRSIGs covering it, and the stored NSEC or
// NSEC3 records (with their RRSIGs) that prove a denial, a wildcard
// expansion or the absence of a DS. Nothing is made up: a record the
// primary did not sign goes out unsigned (a validator then fails, which
// the primary has to fix), and no answer-time synthesis that the primary
// could not have signed happens in such a zone (no live signing, no
// compact denial, no CNAME flattening; proxying is off at the control
// plane). Without DO the answer is the one of any zone.

import (
	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
)

// presigning is the state of one presign.
type presigning struct {
	z   *zonecache.Zone
	p   *zonecache.Presigned
	now uint32
	// exp is the earliest expiration of the signatures added.
	exp uint32
}

// presign turns the finished answer to qname into its signed form from the
// pre-signed zone's stored records.
func (e *Engine) presign(a *call, qname string, qtype uint16) {
	z, resp := a.zone, a.resp
	ps := presigning{z: z, p: z.Presigned, now: uint32(e.now().Unix()), exp: ^uint32(0)}
	switch {
	case resp.Rcode == dns.RcodeNameError:
		resp.Ns = ps.nxdomain(resp.Ns, deniedName(resp, qname))
	case resp.Rcode == dns.RcodeSuccess && resp.Authoritative && hasType(resp.Ns, dns.TypeSOA):
		resp.Ns = ps.nodata(resp.Ns, deniedName(resp, qname), qtype)
	case resp.Rcode == dns.RcodeSuccess && !resp.Authoritative && len(resp.Ns) > 0:
		resp.Ns = ps.referral(resp.Ns)
	}
	if len(resp.Answer) > 0 {
		resp.Answer = ps.sign(resp.Answer, &resp.Ns)
	}
	if len(resp.Ns) > 0 {
		resp.Ns = ps.sign(resp.Ns, nil)
	}
	if ps.exp != ^uint32(0) {
		a.info.SigExpire = ps.exp
	}
}

// presignedQuery answers the queries a pre-signed zone answers otherwise
// than any zone, and reports whether it did: names at or below an NSEC3
// owner, and ANY with DO.
func (e *Engine) presignedQuery(a *call, z *zonecache.Zone, name string, qtype uint16, do bool) bool {
	if nsec3Owner(z, name) {
		// RFC 5155 7.2.8: an NSEC3 owner name is not a name of the zone
		// (the chain covers it); the proof is the usual one (presign).
		a.resp.Rcode = dns.RcodeNameError
		a.resp.Ns = append(a.resp.Ns, z.NegSOA)
		return true
	}
	if do && qtype == dns.TypeANY {
		e.presignedANY(a, z, name)
		return true
	}
	return false
}

// nsec3Owner reports whether name is, or is below, the owner of NSEC3
// records ("<hash>.<zone>", holding nothing else), which the edge holds as a
// name of the zone. Not when the apex has a wildcard: such a name would
// then be answered from it, which the edge does not do (the name is
// answered as it is held; docs/ZONE_TRANSFERS.md). It does not allocate.
func nsec3Owner(z *zonecache.Zone, name string) bool {
	if !z.Presigned.HasNSEC3() || z.Apex.Wildcard != nil {
		return false
	}
	// The label right below the apex starts after the last dot before
	// the zone's name.
	stop := len(name) - len(z.Name)
	if z.Name == "." {
		stop = len(name)
	}
	if stop <= 1 {
		return false // the apex
	}
	start := 0
	for i := 0; i < stop-1; i++ {
		switch name[i] {
		case '\\':
			i++
		case '.':
			start = i + 1
		}
	}
	n := z.Node(name[start:])
	if n == nil {
		return false
	}
	chain := false
	var buf [8]uint16
	for _, t := range n.Types(buf[:0]) {
		switch t {
		case dns.TypeNSEC3:
			chain = true
		case dns.TypeRRSIG:
		default:
			return false
		}
	}
	return chain
}

// presignedANY answers ANY with DO in a pre-signed zone. The usual answer,
// one synthesized HINFO (RFC 8482), cannot carry the primary's signature;
// RFC 8482 4.1 also allows "a subset of the available RRsets", so the
// name's first RRset is the answer, with its signatures. A name without
// data is NODATA; names that do not exist and cuts are answered as for any
// type.
func (e *Engine) presignedANY(a *call, z *zonecache.Zone, name string) {
	m := z.Lookup(name, false)
	if m.Kind != zonecache.Exact && m.Kind != zonecache.Wildcard {
		e.inZone(a, z, name, dns.TypeANY)
		return
	}
	wild := m.Kind == zonecache.Wildcard
	a.info.Wildcard = wild
	var buf [8]uint16
	for _, t := range m.Node.Types(buf[:0]) {
		switch t {
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
		default:
			a.resp.Answer = appendSet(a.resp.Answer, z.RRset(m.Node, t), name, wild, 0)
			return
		}
	}
	nodata(z, a.resp)
}

// sign inserts after each RRset of rrs (consecutive records of one owner
// and type) the stored RRSIGs covering it; RRSIGs themselves and the NS
// set of a cut (the parent does not sign it, RFC 4035 2.2) get none. A set
// synthesized from a wildcard gets the wildcard's RRSIGs under its owner
// (their Labels field already says that it was expanded) and, when proofs
// is not nil, the NSEC or NSEC3 proving that its owner does not exist is
// added to *proofs (RFC 4035 3.1.3.3, RFC 5155 7.2.6). Records are inserted
// in place: with the pooled message's capacity, a stored signature costs
// no allocation.
func (ps *presigning) sign(rrs []dns.RR, proofs *[]dns.RR) []dns.RR {
	z := ps.z
	for i := 0; i < len(rrs); {
		h := rrs[i].Header()
		j := i + 1
		for j < len(rrs) && rrs[j].Header().Rrtype == h.Rrtype && rrs[j].Header().Name == h.Name {
			j++
		}
		owner, t, ttl := h.Name, h.Rrtype, h.Ttl
		var n *zonecache.Node
		rename := false
		switch {
		case t == dns.TypeRRSIG:
		case t == dns.TypeNS && owner != z.Name:
		case t == dns.TypeSOA && owner == z.Name && j == i+1 && rrs[i] == z.NegSOA:
			// The denial's SOA: its signatures with the negative TTL were
			// made when the zone was loaded.
			for _, sig := range ps.p.NegSOASigs() {
				rrs, j = ps.insert(rrs, j, sig.(*dns.RRSIG), owner, ttl, false)
			}
			i = j
			continue
		case (t == dns.TypeSOA || t == dns.TypeNS) && owner == z.Name:
			n = z.Apex // sets from the header, signed by the primary as transferred
		default:
			n = z.Node(owner)
			if n == nil && dnsname.IsSubdomain(owner, z.Name) {
				m := z.Lookup(owner, false)
				if m.Kind == zonecache.Wildcard {
					n, rename = m.Node, true
					if proofs != nil {
						*proofs = ps.wildcardProof(*proofs, owner, dnsname.Parent(m.Node.Name))
					}
				}
			}
		}
		if n != nil {
			if rs := z.RRset(n, dns.TypeRRSIG); rs != nil {
				for _, rr := range rs.RRs {
					if sig := rr.(*dns.RRSIG); sig.TypeCovered == t {
						rrs, j = ps.insert(rrs, j, sig, owner, ttl, rename)
					}
				}
			}
		}
		i = j
	}
	return rrs
}

// insert puts sig into rrs at index at and returns rrs and the index after
// it. The signature goes out as stored unless it must change: owned by the
// query name (wildcard), or its TTL above the TTL of the set it covers
// (RFC 4034 3: they match) or beyond its expiration (RFC 4035 5.3.3: a
// validator would not keep it longer), in which case a copy is changed.
func (ps *presigning) insert(rrs []dns.RR, at int, sig *dns.RRSIG, owner string, setTTL uint32, rename bool) ([]dns.RR, int) {
	ttl := min(sig.Hdr.Ttl, setTTL)
	if left := sig.Expiration - ps.now; int32(left) > 0 {
		ttl = min(ttl, left)
	}
	var rr dns.RR = sig
	if rename || ttl != sig.Hdr.Ttl {
		c := *sig
		c.Hdr.Ttl = ttl
		if rename {
			c.Hdr.Name = owner
		}
		rr = &c
	}
	ps.exp = min(ps.exp, sig.Expiration)
	rrs = append(rrs, nil)
	copy(rrs[at+1:], rrs[at:])
	rrs[at] = rr
	return rrs, at + 1
}

// nxdomain adds the proof that name does not exist (RFC 4035 3.1.3.2: the
// NSEC covering it and the NSEC covering the wildcard at its closest
// encloser; RFC 5155 7.2.2: the closest encloser proof and the NSEC3
// covering the wildcard).
func (ps *presigning) nxdomain(ns []dns.RR, name string) []dns.RR {
	var ce string
	if nsec3Owner(ps.z, name) {
		ce = ps.z.Name // NSEC3 owners sit right below the apex
	} else if m := ps.z.Lookup(name, false); m.Kind == zonecache.NXDomain {
		ce = m.Node.Name
	} else {
		return ns
	}
	if ps.p.UsesNSEC3() {
		ns = ps.closestEncloser(ns, name, ce)
		rr, _, _ := ps.p.NSEC3(ce, true)
		return addProof(ns, rr)
	}
	rr, _, _ := ps.p.NSEC(name, false)
	ns = addProof(ns, rr)
	rr, _, _ = ps.p.NSEC(ce, true)
	return addProof(ns, rr)
}

// nodata adds the proof that name (which exists, or is covered by a
// wildcard) has no qtype: the NSEC or NSEC3 matching it (RFC 4035
// 3.1.3.1, RFC 5155 7.2.3); for an empty non-terminal in an NSEC zone the
// NSEC covering it (3.1.3.2); for a wildcard the proof that name does not
// exist plus the wildcard's own NSEC/NSEC3 (3.1.3.4, 7.2.5); for a DS at an
// opt-out cut without NSEC3 the closest provable encloser proof (7.2.4).
func (ps *presigning) nodata(ns []dns.RR, name string, qtype uint16) []dns.RR {
	m := ps.z.Lookup(name, qtype == dns.TypeDS)
	switch m.Kind {
	case zonecache.Exact:
		if ps.p.UsesNSEC3() {
			if rr, _, match := ps.p.NSEC3(name, false); match {
				return addProof(ns, rr)
			}
			return ps.provableEncloser(ns, name)
		}
		rr, _, _ := ps.p.NSEC(name, false)
		return addProof(ns, rr)
	case zonecache.Wildcard:
		ce := dnsname.Parent(m.Node.Name)
		if ps.p.UsesNSEC3() {
			ns = ps.closestEncloser(ns, name, ce)
			rr, _, _ := ps.p.NSEC3(ce, true)
			return addProof(ns, rr)
		}
		rr, _, _ := ps.p.NSEC(name, false)
		ns = addProof(ns, rr)
		rr, _, _ = ps.p.NSEC(m.Node.Name, false)
		return addProof(ns, rr)
	}
	return ns
}

// referral adds to a referral the cut's DS set, or the proof that it has
// none (RFC 4035 3.1.4: the NSEC at the cut; RFC 5155 7.2.7: the NSEC3
// matching it, or for an opt-out cut the closest provable encloser proof).
func (ps *presigning) referral(ns []dns.RR) []dns.RR {
	cut := ns[0].Header().Name
	n := ps.z.Node(cut)
	if n == nil {
		return ns
	}
	if ds := ps.z.RRset(n, dns.TypeDS); ds != nil {
		return append(ns, ds.RRs...)
	}
	if ps.p.UsesNSEC3() {
		if rr, _, match := ps.p.NSEC3(cut, false); match {
			return addProof(ns, rr)
		}
		return ps.provableEncloser(ns, cut)
	}
	if rr, _, match := ps.p.NSEC(cut, false); match {
		return addProof(ns, rr)
	}
	return ns
}

// wildcardProof adds the proof that owner, answered from the wildcard at
// ce, does not exist: the NSEC covering it, or the NSEC3 covering the next
// closer name.
func (ps *presigning) wildcardProof(ns []dns.RR, owner, ce string) []dns.RR {
	if ps.p.UsesNSEC3() {
		rr, _, _ := ps.p.NSEC3(nextCloser(owner, ce), false)
		return addProof(ns, rr)
	}
	rr, _, _ := ps.p.NSEC(owner, false)
	return addProof(ns, rr)
}

// closestEncloser adds the closest encloser proof of name (RFC 5155 7.2.1):
// the NSEC3 matching ce and the NSEC3 covering the next closer name.
func (ps *presigning) closestEncloser(ns []dns.RR, name, ce string) []dns.RR {
	rr, _, _ := ps.p.NSEC3(ce, false)
	ns = addProof(ns, rr)
	rr, _, _ = ps.p.NSEC3(nextCloser(name, ce), false)
	return addProof(ns, rr)
}

// provableEncloser adds the closest provable encloser proof of name (RFC
// 5155 7.2.1 with opt-out, 7.2.4 and 7.2.7): the NSEC3 matching its nearest
// ancestor that has one, and the NSEC3 covering the next closer name
// (whose opt-out flag says that unsigned delegations may be below it).
func (ps *presigning) provableEncloser(ns []dns.RR, name string) []dns.RR {
	for anc := name; anc != ps.z.Name && anc != "."; {
		anc = dnsname.Parent(anc)
		if _, _, match := ps.p.NSEC3(anc, false); match {
			return ps.closestEncloser(ns, name, anc)
		}
	}
	return ns
}

// addProof appends a denial record unless it is nil or already there (one
// NSEC may cover both a name and the wildcard).
func addProof(ns []dns.RR, rr dns.RR) []dns.RR {
	if rr == nil {
		return ns
	}
	switch v := rr.(type) {
	case *dns.NSEC:
		if v == nil {
			return ns
		}
	case *dns.NSEC3:
		if v == nil {
			return ns
		}
	}
	for _, o := range ns {
		if o == rr {
			return ns
		}
	}
	return append(ns, rr)
}

// nextCloser returns the name one label longer than the closest encloser
// ce on the way to name (RFC 5155 1.3), a suffix of name: no allocation.
// name may hold escapes (a query name); ce is a name of the zone.
func nextCloser(name, ce string) string {
	var starts [128]int
	n := 0
	for i := 0; i < len(name)-1 && n < len(starts); i++ {
		if i == 0 {
			starts[n] = 0
			n++
		}
		switch name[i] {
		case '\\':
			i++
		case '.':
			starts[n] = i + 1
			n++
		}
	}
	// starts holds the start of every label; the next closer name has
	// one label more than ce.
	want := dnsname.CountLabels(ce) + 1
	if want > n {
		return name
	}
	return name[starts[n-want]:]
}
