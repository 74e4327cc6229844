package answer

// DNSSEC at answer time (issue 11; docs/DNSSEC.md). The engine first makes
// the answer exactly as without DNSSEC; when the query set DO and the zone
// that answered has a signer, signAnswer then turns it into its signed form:
// every RRset of the answer and authority sections gets an RRSIG (whatever
// made it: records, proxied addresses, flattened addresses, the synthesized
// HTTPS record, wildcard expansions), negative answers become compact
// answers (RFC 9824), referrals carry the DS set or the NSEC proving there
// is none. Working on the finished answer keeps every rule of rules.go in
// one place and the unsigned path untouched.

import (
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
)

// apexKeys answers DNSKEY, CDS and CDNSKEY at a signed zone's apex from its
// signer (KSK-signed), whatever records of those types the zone holds.
func (e *Engine) apexKeys(a *call, s *dnssec.Zone, qtype uint16, do bool) {
	set, sigs, _ := s.Apex(qtype, e.now())
	a.resp.Authoritative = true
	a.resp.Answer = append(a.resp.Answer, set...)
	if do {
		for _, sig := range sigs { // one per KSK: two during a KSK rollover
			a.resp.Answer = append(a.resp.Answer, sig)
			if a.info.SigExpire == 0 || sig.Expiration < a.info.SigExpire {
				a.info.SigExpire = sig.Expiration
			}
		}
	}
}

// dnssecTypeQuery answers the queries for DNSSEC's own types at a signed
// zone, which the generic path would get wrong (a NODATA whose NSEC lists
// the very type it denies), and reports whether it answered
// (docs/DNSSEC.md, "Queries for DNSSEC types"):
//   - RRSIG: NOTIMP, with or without DO. Signatures are made per answer,
//     there is no RRSIG set to return; PowerDNS, also a live signer,
//     answers NOTIMP too, and resolvers never send such queries (unbound
//     and PowerDNS Recursor refuse them from clients).
//   - NSEC (compact denial zones): the name's compact NSEC (next name
//     "\000.<name>", the bitmap of a NODATA with NSEC itself listed) as
//     the answer, signed with DO, given without DO too (RFC 4035 3.1: the
//     type was asked for). Names that do not exist, cuts and names below
//     them take the generic path (compact NXDOMAIN, referral).
//   - NSEC3PARAM at the apex of an NSEC3 zone: "1 0 0 -" (SHA-1, no
//     opt-out, no extra iteration, no salt: the parameters of every NSEC3
//     the edge makes), signed with DO; the apex bitmap lists it.
func (e *Engine) dnssecTypeQuery(a *call, z *zonecache.Zone, name string, qtype uint16, do bool) bool {
	var rr dns.RR
	switch qtype {
	case dns.TypeRRSIG:
		a.resp.Rcode = dns.RcodeNotImplemented
		return true
	case dns.TypeNSEC:
		if z.Signer.UsesNSEC3() {
			return false // no NSEC exists: NODATA with an NSEC3 that does not list it
		}
		m := z.Lookup(name, false)
		if m.Kind != zonecache.Exact && m.Kind != zonecache.Wildcard {
			return false
		}
		var buf [24]uint16
		rr = dnssec.CompactNODATA(name, negTTL(z), nodeTypes(z, m.Node, 0, buf[:0]))
	case dns.TypeNSEC3PARAM:
		if !z.Signer.UsesNSEC3() || name != z.Name {
			return false
		}
		rr = dnssec.NSEC3PARAM(z.Name, negTTL(z))
	default:
		return false
	}
	a.resp.Authoritative = true
	a.resp.Answer = append(a.resp.Answer, rr)
	if do {
		sg := signing{s: z.Signer, now: e.now(), exp: ^uint32(0)}
		a.resp.Answer = sg.signSection(z, a.resp.Answer, false, nil)
		if sg.exp != ^uint32(0) {
			a.info.SigExpire = sg.exp
		}
	}
	return true
}

// signAnswer turns the finished answer to qname in resp into its signed
// form with the answering zone's signer.
func (e *Engine) signAnswer(a *call, qname string, qtype uint16) {
	z, resp := a.zone, a.resp
	s := z.Signer
	now := e.now()
	sg := signing{s: s, now: now, exp: ^uint32(0)}
	switch {
	case s.UsesNSEC3():
		e.nsec3Denial(a, qname, qtype)
	case resp.Rcode == dns.RcodeNameError:
		// Compact answer (RFC 9824 3.2): NOERROR and one NSEC for the name
		// that does not exist (the query name, or the end of a CNAME chain).
		resp.Rcode = dns.RcodeSuccess
		a.info.CompactNX = true
		resp.Ns = append(resp.Ns, dnssec.CompactNXDOMAIN(deniedName(resp, qname), negTTL(z)))
	case resp.Rcode == dns.RcodeSuccess && resp.Authoritative && hasType(resp.Ns, dns.TypeSOA):
		name := deniedName(resp, qname)
		resp.Ns = append(resp.Ns, e.nodataNSEC(z, name, qtype))
	case resp.Rcode == dns.RcodeSuccess && !resp.Authoritative && len(resp.Ns) > 0:
		resp.Ns = appendCutProof(z, resp.Ns)
	}
	if len(resp.Answer) > 0 {
		resp.Answer = sg.signSection(z, resp.Answer, a.info.Wildcard, &resp.Ns)
	}
	if len(resp.Ns) > 0 {
		resp.Ns = sg.signSection(z, resp.Ns, false, nil)
	}
	if sg.exp != ^uint32(0) {
		a.info.SigExpire = sg.exp
	}
}

// signing is the state of one signAnswer.
type signing struct {
	s   *dnssec.Zone
	now time.Time
	// exp is the earliest expiration of the signatures made.
	exp uint32
}

// signSection returns rrs with an RRSIG after each RRset (consecutive
// records of one owner and type). NS sets are not signed: in the authority
// section they are the referral's, which the parent does not sign (RFC
// 4035 2.2). With wild, sets synthesized from a wildcard are signed as the
// wildcard (RRSIG Labels without the "*") and the NSEC proving that the
// owner does not exist is appended to *proofs.
func (sg *signing) signSection(z *zonecache.Zone, rrs []dns.RR, wild bool, proofs *[]dns.RR) []dns.RR {
	out := make([]dns.RR, 0, 2*len(rrs))
	for i := 0; i < len(rrs); {
		h := rrs[i].Header()
		j := i + 1
		for j < len(rrs) && rrs[j].Header().Rrtype == h.Rrtype && rrs[j].Header().Name == h.Name {
			j++
		}
		set := rrs[i:j]
		out = append(out, set...)
		i = j
		if h.Rrtype == dns.TypeNS || h.Rrtype == dns.TypeRRSIG {
			continue
		}
		signed, owner := set, h.Name
		if wild {
			if m := z.Lookup(owner, false); m.Kind == zonecache.Wildcard {
				// RFC 4035 5.3.4: the validator rebuilds the wildcard owner
				// from the Labels field, so the signature covers the set as
				// owned by "*.<closest encloser>".
				signed = renamed(set, m.Node.Name)
				if proofs != nil {
					ce := dnsname.Parent(m.Node.Name)
					var cover dns.RR = dnssec.CoverNSEC(owner, ce, negTTL(z))
					if sg.s.UsesNSEC3() {
						// RFC 5155 7.2.6: the next closer name does not exist.
						cover = dnssec.NSEC3Cover(dnssec.NextCloser(owner, ce), z.Name, negTTL(z))
					}
					if !hasNSEC(*proofs, cover.Header().Name) {
						*proofs = append(*proofs, cover)
					}
				}
			}
		}
		var sig *dns.RRSIG
		var err error
		if soa, ok := set[0].(*dns.SOA); ok && len(set) == 1 && soa == z.NegSOA {
			sig, err = sg.s.SignSOA(soa, sg.now) // shared by every denial
			if err == nil {
				sig = copySig(sig) // the owner is set below
			}
		} else if stored(z, owner, h.Rrtype, set) {
			sig, err = sg.s.SignStored(set, sg.now) // reused while the ZSK is the same
		} else {
			sig, err = sg.s.Sign(signed, sg.now)
		}
		if err != nil {
			// Only a broken key gets here (Prepare checked them): the
			// answer goes out unsigned and validators call it bogus.
			continue
		}
		sig.Hdr.Name = owner
		out = append(out, sig)
		sg.exp = min(sg.exp, sig.Expiration)
	}
	return out
}

// stored reports whether set is the zone's own RRset of owner and type, as
// held (the same records: proxied, flattened, synthesized and wildcard
// answers are made per answer), whose signature the signer may reuse.
func stored(z *zonecache.Zone, owner string, rrtype uint16, set []dns.RR) bool {
	n := z.Node(owner)
	return n != nil && n.Holds(rrtype, set)
}

func copySig(s *dns.RRSIG) *dns.RRSIG {
	c := *s
	return &c
}

// renamed returns copies of set owned by owner.
func renamed(set []dns.RR, owner string) []dns.RR {
	out := make([]dns.RR, len(set))
	for i, rr := range set {
		c := dns.Copy(rr)
		c.Header().Name = owner
		out[i] = c
	}
	return out
}

// deniedName is the name a negative answer denies: the query name, or the
// target of the CNAME chain the answer holds.
func deniedName(resp *dns.Msg, qname string) string {
	if n := len(resp.Answer); n > 0 {
		if c, ok := resp.Answer[n-1].(*dns.CNAME); ok {
			return c.Target // lower-case: zonecache stores targets so
		}
	}
	return qname
}

// nodataNSEC is the compact NSEC for name, which exists without qtype
// (nameTypes says what it lists).
func (e *Engine) nodataNSEC(z *zonecache.Zone, name string, qtype uint16) dns.RR {
	var buf [24]uint16
	t, ok := nameTypes(z, name, qtype, buf[:0])
	if !ok {
		return dnssec.CompactNXDOMAIN(name, negTTL(z))
	}
	return dnssec.CompactNODATA(name, negTTL(z), t)
}

// nameTypes appends to t the types name answers, for the bitmap of a
// denial: what the rules synthesize included (proxied addresses and HTTPS,
// a flattened CNAME's addresses), so that a resolver using the record
// aggressively (RFC 8198) never denies a type that would be answered; the
// queried type and CNAME are left out (a CNAME that is shown is followed,
// never NODATA). False when name does not exist.
func nameTypes(z *zonecache.Zone, name string, qtype uint16, t []uint16) ([]uint16, bool) {
	m := z.Lookup(name, qtype == dns.TypeDS)
	if m.Kind == zonecache.NXDomain {
		return t, false
	}
	return nodeTypes(z, m.Node, qtype, t), true
}

// nodeTypes is nameTypes for a node.
func nodeTypes(z *zonecache.Zone, n *zonecache.Node, qtype uint16, t []uint16) []uint16 {
	switch {
	case n.Delegation:
		t = append(t, dns.TypeNS)
		if n.Has(dns.TypeDS) {
			t = append(t, dns.TypeDS)
		}
	default:
		var buf [8]uint16
		for _, typ := range n.Types(buf[:0]) {
			set, _ := n.Info(typ)
			switch set.Type {
			case dns.TypeCNAME:
				t = append(t, dns.TypeA, dns.TypeAAAA)
				if set.Proxied {
					t = append(t, dns.TypeHTTPS)
				}
			case dns.TypeA, dns.TypeAAAA:
				t = append(t, set.Type)
				if set.Proxied {
					t = append(t, dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS)
				}
			default:
				t = append(t, set.Type)
			}
		}
		if n == z.Apex {
			t = append(t, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY)
			if z.Signer != nil && z.Signer.UsesNSEC3() {
				t = append(t, dns.TypeNSEC3PARAM)
			}
		}
	}
	w := 0
	for _, x := range t {
		if x != qtype {
			t[w] = x
			w++
		}
	}
	return t[:w]
}

// nsec3Denial adds the NSEC3 records of a negative answer or a referral
// without DS (RFC 5155 7.2): NXDOMAIN keeps its rcode and gets the closest
// encloser proof (an NSEC3 matching the closest encloser, one covering the
// next closer name, one covering the wildcard at the closest encloser);
// NODATA an NSEC3 matching the name; a referral without DS an NSEC3
// matching the cut (NS, no DS).
func (e *Engine) nsec3Denial(a *call, qname string, qtype uint16) {
	z, resp := a.zone, a.resp
	ttl := negTTL(z)
	var buf [24]uint16
	switch {
	case resp.Rcode == dns.RcodeNameError:
		name := deniedName(resp, qname)
		m := z.Lookup(name, false)
		if m.Kind != zonecache.NXDomain {
			return
		}
		ce := m.Node.Name
		resp.Ns = append(resp.Ns,
			dnssec.NSEC3Match(ce, z.Name, ttl, nodeTypes(z, m.Node, 0, buf[:0])),
			dnssec.NSEC3Cover(dnssec.NextCloser(name, ce), z.Name, ttl),
			dnssec.NSEC3Cover("*."+ce, z.Name, ttl))
	case resp.Rcode == dns.RcodeSuccess && resp.Authoritative && hasType(resp.Ns, dns.TypeSOA):
		name := deniedName(resp, qname)
		t, _ := nameTypes(z, name, qtype, buf[:0])
		resp.Ns = append(resp.Ns, dnssec.NSEC3Match(name, z.Name, ttl, t))
	case resp.Rcode == dns.RcodeSuccess && !resp.Authoritative && len(resp.Ns) > 0:
		cut := resp.Ns[0].Header().Name
		if n := z.Node(cut); n != nil {
			if ds := z.RRset(n, dns.TypeDS); ds != nil {
				resp.Ns = append(resp.Ns, ds.RRs...)
			} else {
				resp.Ns = append(resp.Ns, dnssec.NSEC3Match(cut, z.Name, ttl, []uint16{dns.TypeNS}))
			}
		}
	}
}

// appendCutProof adds to a referral's authority section the DS set of the
// cut, or an NSEC at the cut showing NS and no DS (RFC 4035 3.1.4): the
// child is then known to be unsigned.
func appendCutProof(z *zonecache.Zone, ns []dns.RR) []dns.RR {
	cut := ns[0].Header().Name
	n := z.Node(cut)
	if n == nil {
		return ns
	}
	if ds := z.RRset(n, dns.TypeDS); ds != nil {
		return append(ns, ds.RRs...)
	}
	return append(ns, dnssec.CompactNODATA(cut, negTTL(z), []uint16{dns.TypeNS}))
}

// negTTL is the TTL of denial records: the negative TTL (RFC 9077).
func negTTL(z *zonecache.Zone) uint32 { return z.NegSOA.Hdr.Ttl }

func hasType(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

func hasNSEC(rrs []dns.RR, owner string) bool {
	for _, rr := range rrs {
		if t := rr.Header().Rrtype; (t == dns.TypeNSEC || t == dns.TypeNSEC3) && rr.Header().Name == owner {
			return true
		}
	}
	return false
}
