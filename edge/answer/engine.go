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

	"github.com/miekg/dns"
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
}

// Engine produces answers. It is safe for concurrent use.
type Engine struct {
	zones    *zonecache.Set
	accounts *zonecache.Accounts
	v4, v6   []netip.Addr
	pick     int
	resolver Resolver
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
	return &Engine{
		zones: cfg.Zones, accounts: cfg.Accounts,
		v4: cfg.AnycastIPv4, v6: cfg.AnycastIPv6, pick: cfg.PoolPick,
		resolver: cfg.Resolver,
	}
}

// Answer fills resp, already set up as the reply to a query holding q, with
// the answer to q: the sections, the RCODE and the AA bit. The question is
// not touched, so it is echoed as asked.
func (e *Engine) Answer(ctx context.Context, q dns.Question, resp *dns.Msg) {
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		resp.Rcode = dns.RcodeRefused
		return
	}
	name := lowerFQDN(q.Name)
	z := e.zones.Find(name)
	if z == nil {
		resp.Rcode = dns.RcodeRefused
		return
	}
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB:
		// Zone transfers are not served by the query path.
		resp.Rcode = dns.RcodeRefused
		return
	}
	if q.Qtype == dns.TypeDS && name == z.Name {
		z = e.dsParent(z)
	}
	resp.Authoritative = true
	e.inZone(ctx, z, name, q.Qtype, resp)
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
func (e *Engine) inZone(ctx context.Context, z *zonecache.Zone, name string, qtype uint16, resp *dns.Msg) {
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
		next, more := e.atNode(ctx, z, m.Node, name, m.Kind == zonecache.Wildcard, qtype, resp)
		if !more || hop+1 >= MaxChain || !dnsname.IsSubdomain(next, z.Name) || contains(seen[:hop+1], next) {
			return
		}
		name = next
	}
}

// atNode answers qtype at an existing node; owner is the name asked (which
// differs from the node's for a wildcard). It returns the target and true
// when a CNAME must be followed inside the zone.
func (e *Engine) atNode(ctx context.Context, z *zonecache.Zone, n *zonecache.Node, owner string, synth bool, qtype uint16, resp *dns.Msg) (string, bool) {
	if e.proxyRules(z, n, owner, qtype, resp) {
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
	if set := n.Set(qtype); set != nil {
		resp.Answer = appendSet(resp.Answer, set, owner, synth, 0)
		return "", false
	}
	if c := n.Set(dns.TypeCNAME); c != nil {
		if e.flattens(z, n, c) {
			// A flattened CNAME stands for the addresses it leads to
			// (F4-F9); the name has no other data (F10).
			if qtype == dns.TypeA || qtype == dns.TypeAAAA {
				e.flatten(ctx, z, owner, c, qtype, resp)
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
	ns := cut.Set(dns.TypeNS)
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
		if a := g.Set(dns.TypeA); a != nil {
			resp.Extra = append(resp.Extra, a.RRs...)
		}
		if aaaa := g.Set(dns.TypeAAAA); aaaa != nil {
			resp.Extra = append(resp.Extra, aaaa.RRs...)
		}
	}
}

// appendSet appends the records of set; synthesized (wildcard) records are
// copies owned by owner. A non-zero ttl replaces the records' TTL.
func appendSet(dst []dns.RR, set *zonecache.RRset, owner string, synth bool, ttl uint32) []dns.RR {
	if !synth && ttl == 0 {
		return append(dst, set.RRs...)
	}
	for _, rr := range set.RRs {
		c := shallowCopy(rr)
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
