// Package zonecache holds the zones an edge serves as immutable in-memory
// indexes, and the set of them the answer engine reads without locks.
//
// A Zone is built once from a snapshot.Zone (every record unpacked at load
// time) and never changed afterwards, so any number of readers may use it
// while a newer version is being built.
package zonecache

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// ErrInvalidZone is returned for a snapshot that cannot be served.
var ErrInvalidZone = errors.New("invalid zone snapshot")

// RRset is the records of one type at one name, with the answer-time
// attributes the control plane attached to them.
type RRset struct {
	Type uint16
	RRs  []dns.RR
	// Proxied is true when any record of the set is proxied: one proxied
	// address makes the whole name answer as proxied.
	Proxied bool
	// Managed is true when a proxied record of the set has a managed_by
	// product; such records keep proxied answers under enforce DNS-only.
	Managed bool
	// Flatten is true when the record (a CNAME) asks for flattening.
	Flatten bool
	// MinTTL is the lowest TTL of the set.
	MinTTL uint32
}

// Node is one name of a zone. A node without sets is an empty
// non-terminal: it exists (NODATA, not NXDOMAIN) and stops wildcards.
type Node struct {
	Name string
	Sets []RRset
	// Delegation is set for a name below the apex that holds NS records:
	// the zone is cut there and everything at or below it is referred.
	Delegation bool
	// Wildcard is the "*." child of this name, if any.
	Wildcard *Node
}

// Set returns the RRset of type t, or nil.
func (n *Node) Set(t uint16) *RRset {
	for i := range n.Sets {
		if n.Sets[i].Type == t {
			return &n.Sets[i]
		}
	}
	return nil
}

// Zone is an immutable, indexed served zone.
type Zone struct {
	Name    string
	Labels  int
	Version uint64
	Header  *snapshot.ZoneHeader
	// Apex is the node of the zone name; it always exists.
	Apex *Node
	// SOA and NS are synthesized from the header: the platform's name
	// servers are authoritative, whatever NS the user put at the apex.
	SOA *dns.SOA
	NS  []dns.RR
	// NegSOA is the SOA put in the authority section of negative answers,
	// with TTL min(SOA TTL, MINIMUM) as RFC 2308 asks.
	NegSOA *dns.SOA
	nodes  map[string]*Node
}

// Node returns the node of a normalized name, or nil when the name does
// not exist in the zone.
func (z *Zone) Node(name string) *Node { return z.nodes[name] }

// NodeBytes is Node for a name held in a byte slice; the lookup does not
// allocate.
func (z *Zone) NodeBytes(name []byte) *Node { return z.nodes[string(name)] }

// Len returns the number of names (including empty non-terminals).
func (z *Zone) Len() int { return len(z.nodes) }

// Build indexes a zone snapshot. Records whose owner is outside the zone or
// whose wire form does not unpack are rejected with the whole snapshot: a
// half-loaded zone would answer NXDOMAIN for names that exist.
func Build(s *snapshot.Zone) (*Zone, error) {
	h := s.GetHeader()
	if h == nil {
		return nil, fmt.Errorf("zone snapshot without header: %w", ErrInvalidZone)
	}
	name, err := dnsname.Normalize(h.GetName())
	if err != nil || name != h.GetName() {
		return nil, fmt.Errorf("zone snapshot name %q: %w", h.GetName(), ErrInvalidZone)
	}
	if s.GetRecordsObject() != "" {
		return nil, fmt.Errorf("zone %q: records are in object %q, not loaded: %w", name, s.GetRecordsObject(), ErrInvalidZone)
	}
	z := &Zone{
		Name:    name,
		Labels:  dnsname.CountLabels(name),
		Version: h.GetVersion(),
		Header:  h,
		nodes:   make(map[string]*Node, len(s.GetRecords())+1),
	}
	z.Apex = z.ensure(name)
	for i, rec := range s.GetRecords() {
		rr, _, err := dns.UnpackRR(rec.GetRr(), 0)
		if err != nil {
			return nil, fmt.Errorf("zone %q record %d (%s): unpack: %w", name, i, rec.GetId(), err)
		}
		if rr == nil {
			return nil, fmt.Errorf("zone %q record %d (%s): empty rr: %w", name, i, rec.GetId(), ErrInvalidZone)
		}
		hdr := rr.Header()
		owner, err := dnsname.Normalize(hdr.Name)
		if err != nil || !dnsname.IsSubdomain(owner, name) {
			return nil, fmt.Errorf("zone %q record %s owner %q: %w", name, rec.GetId(), hdr.Name, ErrInvalidZone)
		}
		hdr.Name = owner
		hdr.Class = dns.ClassINET
		switch hdr.Rrtype {
		case dns.TypeSOA, dns.TypeOPT:
			continue // SOA comes from the header; OPT is not data
		case dns.TypeNS:
			if owner == name {
				continue // apex NS comes from the header
			}
		}
		// Targets are compared against stored (lower-case) names.
		switch v := rr.(type) {
		case *dns.CNAME:
			v.Target = strings.ToLower(dns.Fqdn(v.Target))
		case *dns.NS:
			v.Ns = strings.ToLower(dns.Fqdn(v.Ns))
		}
		n := z.ensure(owner)
		if len(owner) > 2 && owner[0] == '*' && owner[1] == '.' {
			// Only a name with records of its own whose first label is
			// "*" is a wildcard; "*" elsewhere is a literal (and an empty
			// "*.x" above such a literal is just a name).
			z.nodes[dnsname.Parent(owner)].Wildcard = n
		}
		set := n.Set(hdr.Rrtype)
		if set == nil {
			n.Sets = append(n.Sets, RRset{Type: hdr.Rrtype, MinTTL: hdr.Ttl})
			set = &n.Sets[len(n.Sets)-1]
		}
		if dupRR(set.RRs, rr) {
			continue
		}
		set.RRs = append(set.RRs, rr)
		set.MinTTL = min(set.MinTTL, hdr.Ttl)
		if rec.GetProxied() {
			set.Proxied = true
			if rec.GetManagedBy() != "" {
				set.Managed = true
			}
		}
		if rec.GetFlattenCname() {
			set.Flatten = true
		}
		if hdr.Rrtype == dns.TypeNS && owner != name {
			n.Delegation = true
		}
	}
	z.synthesizeApex(h)
	return z, nil
}

func dupRR(rrs []dns.RR, rr dns.RR) bool {
	for _, o := range rrs {
		if dns.IsDuplicate(o, rr) {
			return true
		}
	}
	return false
}

// ensure returns the node of name, creating it and every missing name
// between it and the apex (the empty non-terminals).
func (z *Zone) ensure(name string) *Node {
	if n := z.nodes[name]; n != nil {
		return n
	}
	n := &Node{Name: name}
	z.nodes[name] = n
	if name != z.Name {
		z.ensure(dnsname.Parent(name))
	}
	return n
}

func (z *Zone) synthesizeApex(h *snapshot.ZoneHeader) {
	soa := h.GetSoa()
	mname, rname := soa.GetMname(), soa.GetRname()
	if mname == "" && len(h.GetNameServers()) > 0 {
		mname = h.GetNameServers()[0]
	}
	if mname == "" {
		mname = z.Name
	}
	if rname == "" {
		rname = "hostmaster." + z.Name
	}
	z.SOA = &dns.SOA{
		Hdr:     dns.RR_Header{Name: z.Name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soa.GetTtl()},
		Ns:      dns.Fqdn(mname),
		Mbox:    dns.Fqdn(rname),
		Serial:  soa.GetSerial(),
		Refresh: soa.GetRefresh(),
		Retry:   soa.GetRetry(),
		Expire:  soa.GetExpire(),
		Minttl:  soa.GetMinimum(),
	}
	neg := *z.SOA
	neg.Hdr.Ttl = min(soa.GetTtl(), soa.GetMinimum())
	z.NegSOA = &neg
	for _, ns := range h.GetNameServers() {
		z.NS = append(z.NS, &dns.NS{
			Hdr: dns.RR_Header{Name: z.Name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: h.GetNsTtl()},
			Ns:  dns.Fqdn(ns),
		})
	}
	// Kept as ordinary sets too, so that SOA and NS queries at the apex take
	// the same path as any other exact match.
	z.Apex.Sets = append(z.Apex.Sets, RRset{Type: dns.TypeSOA, RRs: []dns.RR{z.SOA}, MinTTL: z.SOA.Hdr.Ttl})
	if len(z.NS) > 0 {
		z.Apex.Sets = append(z.Apex.Sets, RRset{Type: dns.TypeNS, RRs: z.NS, MinTTL: h.GetNsTtl()})
	}
}
