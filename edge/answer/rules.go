package answer

// The answer-time rules, in one place. README.md has the decision table;
// each function below names the rows it implements.

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/managed"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// ProxiedTTL is the TTL of every proxied answer (TTL "Auto").
const ProxiedTTL = 300

// proxiedSet reports whether set answers as proxied (rows P1, P5, E1-E3):
// it holds a proxied record, the zone is active (a pending, moved or
// deleted zone answers DNS-only: "an active domain status is a requirement
// for your application services configurations to be applied"), and either the
// account does not enforce DNS-only or the set is exempt from it.
func (e *Engine) proxiedSet(a *call, z *zonecache.Zone, n *zonecache.Node, t uint16) bool {
	set, ok := n.Info(t)
	if !ok || !set.Proxied {
		return false
	}
	if st := z.Header.GetStatus(); st != snapshot.ZoneStatus_ZONE_STATUS_ACTIVE && st != snapshot.ZoneStatus_ZONE_STATUS_UNSPECIFIED {
		return false
	}
	if e.exemptFromEnforce(n, &set) {
		return true
	}
	enforce := e.accounts.EnforceDNSOnly(z.Header.GetAccountId())
	if z == a.zone {
		a.info.UsesAccount, a.info.Enforce = true, enforce
	} else {
		// Another zone's account: Unchanged checks only the zone's own.
		a.info.Cacheable = false
	}
	return !enforce
}

// enforceExempt are the products whose records enforce DNS-only leaves
// proxied (E2; 002, "Excluded"): R2 custom domains, Spectrum applications,
// Tunnel, Web3 gateways and Workers custom domains. Load Balancing, records
// matching a Worker route and the SaaS fallback origin are "Included": they
// are forced DNS-only like any record (E1).
var enforceExempt = managed.Of(managed.R2, managed.Spectrum, managed.Tunnel, managed.Web3, managed.Workers)

// exemptFromEnforce reports whether set (n's, its records not decoded)
// keeps its proxied answers while the account enforces DNS-only: a record
// of an exempt product (E2), or a CNAME pointing to a tunnel subdomain (E3:
// "CNAME records pointing to a tunnel subdomain", recognised by its target,
// with or without managed_by).
func (e *Engine) exemptFromEnforce(n *zonecache.Node, set *zonecache.RRset) bool {
	if set.Managed.Any(enforceExempt) {
		return true
	}
	if set.Type != dns.TypeCNAME || e.tunnel == "" {
		return false
	}
	c := n.Set(dns.TypeCNAME)
	if c == nil || len(c.RRs) == 0 {
		return false
	}
	t := c.RRs[0].(*dns.CNAME).Target
	return len(t) > len(e.tunnel) && dnsname.IsSubdomain(t, e.tunnel)
}

// tunnelDomain normalizes the configured tunnel domain.
func tunnelDomain(d string) string {
	d = strings.ToLower(strings.TrimSpace(d))
	if d == "" || d == "." {
		return ""
	}
	return dns.Fqdn(d)
}

// proxiedName reports whether a node answers address queries from the
// anycast pools: any proxied A or AAAA makes the whole name proxied (P2),
// and so does a proxied CNAME (P3).
func (e *Engine) proxiedName(a *call, z *zonecache.Zone, n *zonecache.Node) bool {
	return n.Proxied() && (e.proxiedSet(a, z, n, dns.TypeA) ||
		e.proxiedSet(a, z, n, dns.TypeAAAA) ||
		e.proxiedSet(a, z, n, dns.TypeCNAME))
}

// proxyRules answers the queries a proxied name answers differently (rows
// P1-P4); it reports whether it did. Other types at a proxied name are
// answered normally (P6).
func (e *Engine) proxyRules(a *call, z *zonecache.Zone, n *zonecache.Node, owner string, qtype uint16) bool {
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		if !e.proxiedName(a, z, n) {
			return false
		}
		e.anycast(z, owner, qtype, a.resp)
		return true
	case dns.TypeHTTPS:
		if n.Has(dns.TypeHTTPS) || !e.proxiedName(a, z, n) {
			return false
		}
		e.syntheticHTTPS(z, owner, a.resp)
		return true
	}
	return false
}

// flattens reports whether a CNAME is flattened (F1-F3): at the apex
// always, everywhere when the zone flattens all CNAMEs, or when the record
// asks for it.
func (e *Engine) flattens(z *zonecache.Zone, n *zonecache.Node, c *zonecache.RRset) bool {
	return n == z.Apex || z.Header.GetFlattenAllCnames() || c.Flatten
}

// flatten follows the chain from the CNAME set c and answers with the
// final records of qtype under owner (F4-F9): targets in a zone the edge
// serves are read from memory, others through the resolver; a proxied
// target answers from the anycast pools; a dangling target or a loop gives
// NODATA; the TTL is the lowest along the chain.
func (e *Engine) flatten(a *call, z *zonecache.Zone, owner string, c *zonecache.RRset, qtype uint16) {
	resp := a.resp
	ttl := c.MinTTL
	target := c.RRs[0].(*dns.CNAME).Target
	var seen [MaxChain + 1]string
	seen[0] = owner
	for hop := 1; hop <= MaxChain; hop++ {
		if contains(seen[:hop], target) {
			nodata(z, resp)
			return
		}
		seen[hop] = target
		tz := e.zones.Find(target)
		var m zonecache.Match
		if tz != nil {
			m = tz.Lookup(target, false)
		}
		if tz == nil || m.Kind == zonecache.Delegation {
			e.flattenExternal(a, z, owner, target, qtype, ttl)
			return
		}
		if tz != a.zone {
			// The answer now depends on another zone too.
			a.info.Cacheable = false
		}
		if m.Kind == zonecache.NXDomain {
			nodata(z, resp)
			return
		}
		n := m.Node
		if (qtype == dns.TypeA || qtype == dns.TypeAAAA) && e.proxiedName(a, tz, n) {
			e.anycast(tz, owner, qtype, resp)
			return
		}
		if set := tz.RRset(n, qtype); set != nil {
			resp.Answer = appendSet(resp.Answer, set, owner, true, min(ttl, set.MinTTL))
			return
		}
		next := tz.RRset(n, dns.TypeCNAME)
		if next == nil {
			nodata(z, resp)
			return
		}
		ttl = min(ttl, next.MinTTL)
		target = next.RRs[0].(*dns.CNAME).Target
	}
	nodata(z, resp)
}

func (e *Engine) flattenExternal(a *call, z *zonecache.Zone, owner, target string, qtype uint16, ttl uint32) {
	resp := a.resp
	// Upstream data changes by the second (TTLs): never reused.
	a.info.Cacheable = false
	if e.resolver == nil {
		resp.Rcode = dns.RcodeServerFailure
		resp.Answer = resp.Answer[:0]
		return
	}
	var rrs []dns.RR
	var err error
	if a.upstream {
		rrs, err = e.resolver.Resolve(a.ctx, target, qtype)
	} else {
		cr, ok := e.resolver.(CachedResolver)
		if ok {
			rrs, ok = cr.Cached(target, qtype)
		}
		if !ok {
			a.info.Deferred = true
			return
		}
	}
	if err != nil {
		resp.Rcode = dns.RcodeServerFailure
		resp.Answer = resp.Answer[:0]
		return
	}
	start := len(resp.Answer)
	for _, rr := range rrs {
		ttl = min(ttl, rr.Header().Ttl)
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype != qtype {
			continue
		}
		c := dns.Copy(rr)
		c.Header().Name = owner
		c.Header().Ttl = ttl
		resp.Answer = append(resp.Answer, c)
	}
	if len(resp.Answer) == start {
		nodata(z, resp)
	}
}

// anycast answers an address query at a proxied name (P1-P3).
func (e *Engine) anycast(z *zonecache.Zone, owner string, qtype uint16, resp *dns.Msg) {
	pool := e.v4
	if qtype == dns.TypeAAAA {
		pool = e.v6
	}
	start, k := pick(z.Header.GetZoneId(), len(pool), e.pick)
	if k == 0 {
		nodata(z, resp)
		return
	}
	hdr := dns.RR_Header{Name: owner, Rrtype: qtype, Class: dns.ClassINET, Ttl: ProxiedTTL}
	for i := range k {
		ip := pool[(start+i)%len(pool)]
		if qtype == dns.TypeA {
			resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: ip.AsSlice()})
		} else {
			resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()})
		}
	}
}

// syntheticHTTPS answers an HTTPS query at a proxied name that has no
// HTTPS record of its own (P4).
func (e *Engine) syntheticHTTPS(z *zonecache.Zone, owner string, resp *dns.Msg) {
	rr := &dns.HTTPS{SVCB: dns.SVCB{
		Hdr:      dns.RR_Header{Name: owner, Rrtype: dns.TypeHTTPS, Class: dns.ClassINET, Ttl: ProxiedTTL},
		Priority: 1,
		Target:   ".",
		Value:    []dns.SVCBKeyValue{&dns.SVCBAlpn{Alpn: []string{"h3", "h2"}}},
	}}
	if v4 := e.zonePool(z, e.v4); len(v4) > 0 {
		rr.Value = append(rr.Value, &dns.SVCBIPv4Hint{Hint: v4})
	}
	if v6 := e.zonePool(z, e.v6); len(v6) > 0 {
		rr.Value = append(rr.Value, &dns.SVCBIPv6Hint{Hint: v6})
	}
	resp.Answer = append(resp.Answer, rr)
}

func (e *Engine) zonePool(z *zonecache.Zone, pool []netip.Addr) []net.IP {
	start, k := pick(z.Header.GetZoneId(), len(pool), e.pick)
	out := make([]net.IP, 0, k)
	for i := range k {
		out = append(out, pool[(start+i)%len(pool)].AsSlice())
	}
	return out
}

// pick chooses k consecutive addresses of a pool of size n for a zone,
// starting at a position derived from the zone id, so that every edge
// gives a zone the same addresses.
func pick(zoneID string, n, want int) (start, k int) {
	if n == 0 {
		return 0, 0
	}
	// FNV-1a, inline so that the answer path does not allocate a hasher.
	h := uint64(14695981039346656037)
	for i := 0; i < len(zoneID); i++ {
		h ^= uint64(zoneID[i])
		h *= 1099511628211
	}
	return int(h % uint64(n)), min(want, n)
}
