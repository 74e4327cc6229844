// Package answer is the answer engine of the edge: given one question and
// the zones in memory it fills in the response. It does no I/O except the
// upstream lookup of an external CNAME flattening target that is not
// cached. Every answer-time rule (proxying, enforce DNS-only, flattening)
// lives in rules.go; README.md holds the decision table.
package answer

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
)

// MaxChain bounds CNAME chains, in-zone and flattened alike.
const MaxChain = 8

// Resolver looks names up upstream for flattening external CNAME targets.
type Resolver interface {
	// Resolve returns the answer section of the upstream's response for
	// name and qtype (CNAMEs of the chain included).
	Resolve(ctx context.Context, name string, qtype uint16) ([]dns.RR, error)
}

// Config configures an Engine.
type Config struct {
	Zones    *zonecache.Set
	Accounts *zonecache.Accounts
	// Anycast pools that proxied names answer with.
	AnycastIPv4, AnycastIPv6 []netip.Addr
	// PoolPick is how many addresses of each family a zone gets (default 2).
	PoolPick int
	// Resolver resolves external flattening targets; nil answers SERVFAIL
	// for them.
	Resolver Resolver
	// TunnelDomain is the platform's tunnel domain: a proxied CNAME to a
	// name below it keeps its proxied answers under enforce DNS-only (row
	// E3), whoever created it. Empty: no such domain.
	TunnelDomain string
	// Now is the clock signatures are made with; nil is time.Now.
	Now func() time.Time
}

// CachedResolver is optionally implemented by a Resolver that can tell,
// without blocking, whether it holds a fresh answer. With it, an answer
// that flattens onto a cached external target stays on the caller's
// goroutine instead of being deferred (see AnswerQuery).
type CachedResolver interface {
	Cached(name string, qtype uint16) ([]dns.RR, bool)
}

// Info says what one answer depended on, so that a caller may keep the
// packed answer and reuse it for as long as Unchanged reports those inputs
// unchanged, and whether the answer was deferred.
type Info struct {
	// Zone and Version name the zone that answered and its version; ""
	// when no served zone holds the name (REFUSED). Not a pointer: a
	// cached Info must not keep an old version of a zone in memory.
	Zone    string
	Version uint64
	// Cacheable is false when the answer read anything besides Zone and
	// the account setting below: another zone (DS parent, flattening
	// across zones), an upstream lookup, a non-IN class.
	Cacheable bool
	// UsesAccount is true when the answer depended on the zone account's
	// enforce_dns_only; Enforce is the value it saw.
	UsesAccount, Enforce bool
	// Wildcard is true when the answer was synthesized from a wildcard
	// (RFC 4592): the rate limiter counts such answers per zone, not per
	// query name, which a client picks at will.
	Wildcard bool
	// Deferred is true when the answer needs an upstream lookup that the
	// caller asked not to wait for: resp is incomplete and must be
	// discarded; ask again with upstream lookups allowed.
	Deferred bool
	// SigExpire is the earliest expiration (unix seconds, RFC 4034 serial
	// arithmetic aside) of the DNSSEC signatures in the answer; 0 when it
	// holds none. A cache must stop reusing the answer at
	// dnssec.StaleAt(SigExpire).
	SigExpire uint32
	// CompactNX is true when the answer is the compact form (RFC 9824,
	// NOERROR) of an NXDOMAIN: a cache treats it as an error answer.
	CompactNX bool
}

// Engine produces answers. It is safe for concurrent use.
type Engine struct {
	zones    *zonecache.Set
	accounts *zonecache.Accounts
	v4, v6   []netip.Addr
	pick     int
	resolver Resolver
	tunnel   string // lower-case, fully qualified; "" for none
	now      func() time.Time
}

// New returns an Engine.
func New(cfg Config) *Engine {
	if cfg.Zones == nil {
		cfg.Zones = zonecache.NewSet()
	}
	if cfg.Accounts == nil {
		cfg.Accounts = zonecache.NewAccounts()
	}
	if cfg.PoolPick <= 0 {
		cfg.PoolPick = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{
		zones: cfg.Zones, accounts: cfg.Accounts,
		v4: cfg.AnycastIPv4, v6: cfg.AnycastIPv6, pick: cfg.PoolPick,
		resolver: cfg.Resolver,
		tunnel:   tunnelDomain(cfg.TunnelDomain),
		now:      cfg.Now,
	}
}

// Answer fills resp, already set up as the reply to a query holding q, with
// the answer to q: the sections, the RCODE and the AA bit. The question is
// not touched, so it is echoed as asked.
func (e *Engine) Answer(ctx context.Context, q dns.Question, resp *dns.Msg) {
	e.AnswerQuery(ctx, q, resp, true)
}

// AnswerQuery is Answer reporting what the answer depended on. With
// upstream false, an answer that would wait on an upstream lookup is not
// made: Info.Deferred is set instead, so that a caller serving many
// queries on one goroutine can hand that one to another goroutine.
func (e *Engine) AnswerQuery(ctx context.Context, q dns.Question, resp *dns.Msg, upstream bool) Info {
	return e.AnswerQueryDO(ctx, q, resp, upstream, false)
}

// AnswerQueryDO is AnswerQuery for a query with the DO bit (RFC 3225) as
// given: with do set, the answer of a signed zone carries its DNSSEC
// records (sign.go; a pre-signed zone's stored ones, presigned.go);
// without it, or for an unsigned zone, the answer is AnswerQuery's.
func (e *Engine) AnswerQueryDO(ctx context.Context, q dns.Question, resp *dns.Msg, upstream, do bool) Info {
	a := call{ctx: ctx, resp: resp, upstream: upstream, info: Info{Cacheable: true}}
	info := &a.info
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		resp.Rcode = dns.RcodeRefused
		info.Cacheable = false // Unchanged checks the zone, which was not read
		return *info
	}
	name := lowerFQDN(q.Name)
	z := e.zones.Find(name)
	if z == nil {
		resp.Rcode = dns.RcodeRefused
		return *info
	}
	info.Zone, info.Version = z.Name, z.Version
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB:
		// Zone transfers are not served by the query path.
		resp.Rcode = dns.RcodeRefused
		return *info
	}
	if z.Signer != nil && name == z.Name && dnssec.IsApexType(q.Qtype) {
		a.zone = z
		e.apexKeys(&a, z.Signer, q.Qtype, do)
		return a.info
	}
	if z.Signer != nil && e.dnssecTypeQuery(&a, z, name, q.Qtype, do) { // RRSIG, NSEC, NSEC3PARAM (sign.go)
		return a.info
	}
	if q.Qtype == dns.TypeDS && name == z.Name {
		z = e.dsParent(z)
		info.Cacheable = false // the parent zone may answer
	}
	resp.Authoritative = true
	a.zone = z
	if z.Presigned == nil || !e.presignedQuery(&a, z, name, q.Qtype, do) { // presigned.go
		e.inZone(&a, z, name, q.Qtype)
	}
	if do && !a.info.Deferred && resp.Rcode != dns.RcodeServerFailure {
		switch {
		case z.Presigned != nil: // the primary's signatures, never ours (presigned.go)
			e.presign(&a, name, q.Qtype)
		case z.Signer != nil:
			e.signAnswer(&a, name, q.Qtype)
		}
	}
	return a.info
}

// Unchanged reports whether an answer to name made with info would still
// be the same: the same zone, at the same version, answers the name, and
// the account setting it read has the same value. It does not allocate.
func (e *Engine) Unchanged(name string, info *Info) bool {
	if !info.Cacheable {
		return false
	}
	z := e.zones.Find(name)
	if z == nil {
		return info.Zone == ""
	}
	// Name and version identify the content: versions only grow, and the
	// zone set never replaces a zone by one of an equal version.
	if z.Name != info.Zone || z.Version != info.Version {
		return false
	}
	return !info.UsesAccount || e.accounts.EnforceDNSOnly(z.Header.GetAccountId()) == info.Enforce
}

// call is the state of one AnswerQuery.
type call struct {
	ctx  context.Context
	resp *dns.Msg
	info Info
	// zone is the zone Info describes (DS queries aside, the one
	// answering).
	zone     *zonecache.Zone
	upstream bool
}

// dsParent returns the zone that answers a DS query at z's apex: the DS
// set lives on the parent side of the cut (RFC 4035 3.1.4.1), so when this
// edge also serves a parent zone that delegates to z, the parent answers.
func (e *Engine) dsParent(z *zonecache.Zone) *zonecache.Zone {
	if z.Name == "." {
		return z
	}
	p := e.zones.Find(dnsname.Parent(z.Name))
	if p == nil {
		return z
	}
	if m := p.Lookup(z.Name, true); m.Kind == zonecache.Exact && m.Node.Delegation {
		return p
	}
	return z
}

// inZone answers name inside z, following CNAMEs within the zone.
func (e *Engine) inZone(a *call, z *zonecache.Zone, name string, qtype uint16) {
	resp := a.resp
	var seen [MaxChain]string
	for hop := 0; ; hop++ {
		seen[hop] = name
		m := z.Lookup(name, qtype == dns.TypeDS)
		switch m.Kind {
		case zonecache.Delegation:
			if hop == 0 {
				referral(z, m.Node, resp)
			}
			// Inside a chain the CNAME alone is the answer; the resolver
			// follows the target itself.
			return
		case zonecache.NXDomain:
			resp.Rcode = dns.RcodeNameError
			resp.Ns = append(resp.Ns, z.NegSOA)
			return
		}
		if m.Kind == zonecache.Wildcard {
			a.info.Wildcard = true
		}
		next, more := e.atNode(a, z, m.Node, name, m.Kind == zonecache.Wildcard, qtype)
		if !more || hop+1 >= MaxChain || !dnsname.IsSubdomain(next, z.Name) || contains(seen[:hop+1], next) {
			return
		}
		name = next
	}
}

// atNode answers qtype at an existing node; owner is the name asked (which
// differs from the node's for a wildcard). It returns the target and true
// when a CNAME must be followed inside the zone.
func (e *Engine) atNode(a *call, z *zonecache.Zone, n *zonecache.Node, owner string, synth bool, qtype uint16) (string, bool) {
	resp := a.resp
	if e.proxyRules(a, z, n, owner, qtype) {
		return "", false
	}
	if qtype == dns.TypeANY {
		// RFC 8482: a minimal answer instead of every set (and no origin
		// addresses of proxied records leak through ANY).
		resp.Answer = append(resp.Answer, &dns.HINFO{
			Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 3789},
			Cpu: "RFC8482",
		})
		return "", false
	}
	if set := z.RRset(n, qtype); set != nil {
		resp.Answer = appendSet(resp.Answer, set, owner, synth, 0)
		return "", false
	}
	if c := z.RRset(n, dns.TypeCNAME); c != nil {
		// Not in a pre-signed zone: the primary signed the CNAME, not
		// the addresses it would be flattened to.
		if z.Presigned == nil && e.flattens(z, n, c) {
			// A flattened CNAME stands for the addresses it leads to
			// (F4-F9); the name has no other data (F10).
			if qtype == dns.TypeA || qtype == dns.TypeAAAA {
				e.flatten(a, z, owner, c, qtype)
			} else {
				nodata(z, resp)
			}
			return "", false
		}
		resp.Answer = appendSet(resp.Answer, c, owner, synth, 0)
		return c.RRs[0].(*dns.CNAME).Target, true
	}
	nodata(z, resp)
	return "", false
}

func nodata(z *zonecache.Zone, resp *dns.Msg) {
	resp.Ns = append(resp.Ns, z.NegSOA)
}

// referral answers a name at or below a cut: NS of the cut in authority,
// glue for in-zone name servers, not authoritative.
func referral(z *zonecache.Zone, cut *zonecache.Node, resp *dns.Msg) {
	resp.Authoritative = false
	ns := z.RRset(cut, dns.TypeNS)
	resp.Ns = append(resp.Ns, ns.RRs...)
	for _, rr := range ns.RRs {
		target := rr.(*dns.NS).Ns
		if !dnsname.IsSubdomain(target, z.Name) {
			continue
		}
		g := z.Node(target)
		if g == nil {
			continue
		}
		if a := z.RRset(g, dns.TypeA); a != nil {
			resp.Extra = append(resp.Extra, a.RRs...)
		}
		if aaaa := z.RRset(g, dns.TypeAAAA); aaaa != nil {
			resp.Extra = append(resp.Extra, aaaa.RRs...)
		}
	}
}

// appendSet appends the records of set; synthesized (wildcard) records are
// owned by owner. A non-zero ttl replaces the records' TTL. The records of
// a set decoded for this answer are changed in place; shared ones
// (RRset.Shared: a pre-signed zone's) are copied.
func appendSet(dst []dns.RR, set *zonecache.RRset, owner string, synth bool, ttl uint32) []dns.RR {
	if !synth && ttl == 0 {
		return append(dst, set.RRs...)
	}
	for _, rr := range set.RRs {
		c := rr
		if set.Shared {
			c = shallowCopy(rr)
		}
		h := c.Header()
		h.Name = owner
		if ttl != 0 {
			h.Ttl = ttl
		}
		dst = append(dst, c)
	}
	return dst
}

// shallowCopy copies an RR for a new owner or TTL. The rdata is shared
// (it is never modified), which saves an allocation per record for the
// common types of synthesized answers.
func shallowCopy(rr dns.RR) dns.RR {
	switch v := rr.(type) {
	case *dns.A:
		c := *v
		return &c
	case *dns.AAAA:
		c := *v
		return &c
	case *dns.CNAME:
		c := *v
		return &c
	case *dns.TXT:
		c := *v
		return &c
	case *dns.MX:
		c := *v
		return &c
	}
	return dns.Copy(rr)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// lowerFQDN returns name lower-cased and fully qualified, without
// allocating when it already is (the common case).
func lowerFQDN(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			return dns.Fqdn(strings.ToLower(name))
		}
	}
	return dns.Fqdn(name)
}
