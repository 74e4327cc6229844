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
	set, sig, _ := s.Apex(qtype, e.now())
	a.resp.Authoritative = true
	a.resp.Answer = append(a.resp.Answer, set...)
	if do && sig != nil {
		a.resp.Answer = append(a.resp.Answer, sig)
		a.info.SigExpire = sig.Expiration
	}
}

// signAnswer turns the finished answer to qname in resp into its signed
// form with the answering zone's signer.
func (e *Engine) signAnswer(a *call, qname string, qtype uint16) {
	z, resp := a.zone, a.resp
	s := z.Signer
	now := e.now()
	sg := signing{s: s, now: now, exp: ^uint32(0)}
	switch {
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
					cover := dnssec.CoverNSEC(owner, dnsname.Parent(m.Node.Name), negTTL(z))
					if !hasNSEC(*proofs, cover.Hdr.Name) {
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

// nodataNSEC is the compact NSEC for name, which exists without qtype: the
// bitmap lists what the name answers, including what the rules synthesize
// (proxied addresses and HTTPS, a flattened CNAME's addresses), so that a
// resolver using the NSEC aggressively (RFC 8198) never denies a type that
// would be answered; the queried type and CNAME are left out (a CNAME that
// is shown is followed, never NODATA).
func (e *Engine) nodataNSEC(z *zonecache.Zone, name string, qtype uint16) dns.RR {
	var types [24]uint16
	t := types[:0]
	m := z.Lookup(name, qtype == dns.TypeDS)
	if m.Kind == zonecache.NXDomain {
		return dnssec.CompactNXDOMAIN(name, negTTL(z))
	}
	n := m.Node
	switch {
	case n.Delegation:
		t = append(t, dns.TypeNS)
		if n.Set(dns.TypeDS) != nil {
			t = append(t, dns.TypeDS)
		}
	default:
		for i := range n.Sets {
			set := &n.Sets[i]
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
				if len(t) < cap(t)-3 {
					t = append(t, set.Type)
				}
			}
		}
		if n == z.Apex {
			t = append(t, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY)
		}
	}
	w := 0
	for _, x := range t {
		if x != qtype {
			t[w] = x
			w++
		}
	}
	return dnssec.CompactNODATA(name, negTTL(z), t[:w])
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
	if ds := n.Set(dns.TypeDS); ds != nil {
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
		if rr.Header().Rrtype == dns.TypeNSEC && rr.Header().Name == owner {
			return true
		}
	}
	return false
}
