package answer

// Outgoing zone transfers carry what the edge answers, not what the zone
// stores: this file renders a zone's names with the same rule functions
// the query path uses (rules.go), so that a secondary fed by AXFR/IXFR
// (edge/xfrout) answers like an edge. docs/ZONE_TRANSFERS.md, "Outgoing
// transfers", has the table.

import (
	"context"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// TransferInfo says what the records of one name in a transfer depended
// on.
type TransferInfo struct {
	// Dynamic is set when the records depend on more than the node and the
	// zone header: a flattened CNAME reads its target (another name, zone
	// or an upstream). A history of versions keeps such names' records as
	// rendered, since rendering them again later may give another answer.
	Dynamic bool
	// Failed is set when a flattening target could not be resolved (no
	// resolver, upstream failure): the name's addresses are left out.
	Failed bool
}

// Transfer renders one zone version for outgoing transfers, with the
// account's enforce DNS-only fixed to the value given, so that every name
// of a transfer (and of a history of differences) is rendered with the
// same setting even if the account's changes meanwhile.
type Transfer struct {
	e    Engine
	zone *zonecache.Zone
	// a and msg are reused from name to name (a transfer renders a whole
	// zone: two allocations a name would be millions); a Transfer is
	// therefore used by one goroutine at a time.
	a   call
	msg dns.Msg
	// cuts, when known (SetCuts), are the zone's delegation points: a
	// name is checked against them instead of by a lookup from the apex.
	cuts      map[string]bool
	cutsKnown bool
}

// SetCuts tells the renderer the names of the zone's delegation points
// (nodes with Delegation set), which a caller walking the zone already
// knows: a zone without any (the common case) then renders without a
// lookup per name.
func (t *Transfer) SetCuts(cuts map[string]bool) { t.cuts, t.cutsKnown = cuts, true }

// belowCut reports whether n is at or below a zone cut.
func (t *Transfer) belowCut(n *zonecache.Node) bool {
	if !t.cutsKnown {
		return t.zone.Lookup(n.Name, false).Kind == zonecache.Delegation
	}
	if len(t.cuts) == 0 {
		return false
	}
	for name := n.Name; len(name) > len(t.zone.Name); name = dnsname.Parent(name) {
		if t.cuts[name] {
			return true
		}
	}
	return false
}

// EnforceDNSOnly reports the enforce DNS-only setting of z's account as the
// edge holds it now.
func (e *Engine) EnforceDNSOnly(z *zonecache.Zone) bool {
	return e.accounts.EnforceDNSOnly(z.Header.GetAccountId())
}

// Transfer returns the renderer of zone z with enforce as the account's
// enforce DNS-only setting. Another zone read through flattening is seen
// with its own account's setting as not enforced (rare: a flattened
// CNAME onto a proxied name of another account's zone).
func (e *Engine) Transfer(z *zonecache.Zone, enforce bool) *Transfer {
	t := &Transfer{e: *e, zone: z}
	acc := zonecache.NewAccounts()
	acc.Put(&snapshot.Account{AccountId: z.Header.GetAccountId(), Version: 1, EnforceDnsOnly: enforce})
	t.e.accounts = acc
	return t
}

// Node appends to dst (which it may reuse) the records a transfer carries for node n and
// reports what they depended on (rows of docs/ZONE_TRANSFERS.md):
//
//   - the apex SOA is left out (a transfer frames the zone with it); the
//     apex NS set is the served one (the platform's name servers, plus the
//     user's apex NS with multi-provider DNS: Zone.NS);
//   - a proxied name (P1-P3: a proxied A, AAAA or CNAME, zone active, not
//     forced DNS-only) carries the anycast addresses the edge answers with
//     (two A and two AAAA by default) instead of its A, AAAA or CNAME; its
//     other types go out as stored (P6); the synthesized HTTPS (P4) does
//     not go out;
//   - a CNAME the edge flattens (F1-F3: at the apex, with flatten all
//     CNAMEs, or asked by the record) carries the A and AAAA it flattens
//     to (F4-F9) instead of the CNAME;
//   - names at or below a zone cut (delegation NS, DS, glue) go out as
//     stored, as the referral answers them;
//   - everything else goes out as stored.
//
// Wildcard names go out under their "*" owner, rendered like any name.
// ctx bounds upstream lookups of external flattening targets.
func (t *Transfer) Node(ctx context.Context, n *zonecache.Node, dst []dns.RR) ([]dns.RR, TransferInfo) {
	var info TransferInfo
	if n == nil || n.Empty() {
		return dst, info
	}
	z, e := t.zone, &t.e
	apex := n == z.Apex
	if !apex && t.belowCut(n) {
		return appendStored(dst, n, false), info
	}
	t.msg.Answer, t.msg.Ns, t.msg.Rcode = dst, t.msg.Ns[:0], dns.RcodeSuccess
	t.a = call{ctx: ctx, resp: &t.msg, upstream: true, info: Info{Cacheable: true}, zone: z}
	a := &t.a
	cname := z.RRset(n, dns.TypeCNAME)
	switch {
	case e.proxiedName(a, z, n):
		e.anycast(z, n.Name, dns.TypeA, a.resp)
		e.anycast(z, n.Name, dns.TypeAAAA, a.resp)
		sets := n.Sets()
		for i := range sets {
			s := &sets[i]
			switch {
			case s.Type == dns.TypeA, s.Type == dns.TypeAAAA, s.Type == dns.TypeCNAME:
			case apex && s.Type == dns.TypeSOA:
			default:
				a.resp.Answer = append(a.resp.Answer, s.RRs...)
			}
		}
	case cname != nil && e.flattens(z, n, cname):
		info.Dynamic = true
		sets := n.Sets()
		for i := range sets {
			// Other types at the name answer from their sets, as atNode
			// does (the apex's served NS among them).
			if s := &sets[i]; s.Type != dns.TypeCNAME && !(apex && s.Type == dns.TypeSOA) {
				a.resp.Answer = append(a.resp.Answer, s.RRs...)
			}
		}
		for _, qt := range [2]uint16{dns.TypeA, dns.TypeAAAA} {
			if n.Has(qt) {
				continue
			}
			start := len(a.resp.Answer)
			e.flatten(a, z, n.Name, cname, qt)
			if a.info.Deferred || a.resp.Rcode != dns.RcodeSuccess {
				info.Failed = true
				a.resp.Answer = a.resp.Answer[:start]
				a.resp.Rcode, a.info.Deferred = dns.RcodeSuccess, false
			}
		}
	default:
		a.resp.Answer = appendStored(a.resp.Answer, n, apex)
	}
	out := a.resp.Answer
	t.msg.Answer, t.a.ctx = nil, nil // keep neither the caller's slice nor its context
	return out, info
}

// appendStored appends every set of n as stored, but the apex SOA.
func appendStored(dst []dns.RR, n *zonecache.Node, apex bool) []dns.RR {
	sets := n.Sets()
	for i := range sets {
		if apex && sets[i].Type == dns.TypeSOA {
			continue
		}
		dst = append(dst, sets[i].RRs...)
	}
	return dst
}
