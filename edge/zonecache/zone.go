// Package zonecache holds the zones an edge serves as immutable in-memory
// indexes, and the set of them the answer engine reads without locks.
//
// A Zone is built from a snapshot.Zone (every record checked by unpacking
// it at load time, then kept in wire form and decoded per read: packed.go)
// and never changed afterwards, so any number of readers may use it while a
// newer version is being built. A newer version of a large zone is usually
// derived from the held one by ApplyDelta, which copies only the names a
// delta touches (see delta.go).
package zonecache

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/xfrauth"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/managed"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// ErrInvalidZone is returned for a snapshot that cannot be served.
var ErrInvalidZone = errors.New("invalid zone snapshot")

// RRset is the records of one type at one name, with the answer-time
// attributes the control plane attached to them.
type RRset struct {
	Type uint16
	// Managed holds the products (managed_by) of the set's proxied
	// records; edge/answer decides which of them keep proxied answers
	// under enforce DNS-only.
	Managed managed.Set
	RRs     []dns.RR
	// Proxied is true when any record of the set is proxied: one proxied
	// address makes the whole name answer as proxied.
	Proxied bool
	// Flatten is true when the record (a CNAME) asks for flattening.
	Flatten bool
	// MinTTL is the lowest TTL of the set.
	MinTTL uint32
	// Shared is true when RRs are the zone's own, held for every answer
	// (a pre-signed zone's sets): a caller changing a record copies it
	// first. Otherwise the records were decoded for this caller.
	Shared bool
}

// Node is one name of a zone. A node without records is an empty
// non-terminal: it exists (NODATA, not NXDOMAIN) and stops wildcards.
//
// Its records are kept in wire form (packed.go) and decoded by Set and
// Sets: 48 bytes a node plus the encoded records, instead of decoded sets.
type Node struct {
	Name string
	// Wildcard is the "*." child of this name, if any.
	Wildcard *Node

	// data is the node's records, encoded (packed.go): the snapshot
	// records at this name in the order they came, duplicates flagged,
	// and at the apex the SOA and NS synthesized from the header. A delta
	// edits a copy of it.
	data string
	// children counts the names directly below this one, so that a delta
	// removing the last record of a leaf also removes the empty
	// non-terminals that only existed for it.
	children int32
	// Delegation is set for a name below the apex that holds NS records:
	// the zone is cut there and everything at or below it is referred.
	Delegation bool
	// proxied is set when any record of the node is proxied (Proxied).
	proxied bool
}

// record is one snapshot record being added to a node.
type record struct {
	id      idKey
	rr      dns.RR
	proxied bool
	flatten bool
	managed managed.Product
	// end is where rr ends in the snapshot record's wire form: its rdata
	// is reused as it is when nothing in it is rewritten (encodeRecord).
	end int
}

// Zone is an immutable, indexed served zone.
type Zone struct {
	// Name is the name the zone is served under; Key the name it is
	// published under. They differ only for partial (CNAME) setups, served
	// below the platform's partial suffix (header.served_name).
	Name    string
	Key     string
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
	// Signer signs the zone's answers (DNSSEC), set by Set.Put when the
	// header carries DNSSEC and the keys open; nil: served unsigned.
	Signer *dnssec.Zone
	// Transfer says who may NOTIFY the zone or transfer it out, set by
	// Set.Put from the header (edge/xfrauth); nil: nobody.
	Transfer *xfrauth.Policy
	// Presigned indexes the primary's DNSSEC records of a pre-signed zone
	// (one holding RRSIGs; presigned.go), built with the zone; nil for
	// every other zone. Such a zone is never signed live.
	Presigned *Presigned

	// nodes and ids are sharded by a hash of the key so that a delta copies
	// only the shards it touches (a few hundred entries each), never the
	// whole index of a large zone.
	nodes nodeIndex
	// ids maps a record id to its owner, for deletes and renames (ids.go).
	ids    idIndex
	nnodes int
	// grow holds the records of the nodes of a zone being built that
	// have more than a few (addEncoded); nil once built.
	grow map[*Node][]byte
}

// Node returns the node of a normalized name, or nil when the name does
// not exist in the zone.
func (z *Zone) Node(name string) *Node { return z.nodes.get(name) }

// NodeBytes is Node for a name held in a byte slice; the lookup does not
// allocate.
func (z *Zone) NodeBytes(name []byte) *Node { return nodeBytes(&z.nodes, name) }

// RRset returns n's set of type t, or nil: n.Set(t), but without decoding
// for a pre-signed zone, which keeps its sets decoded (the sets of such a
// zone's nodes are shared: callers must not modify them).
func (z *Zone) RRset(n *Node, t uint16) *RRset {
	var s RRset // inlined: on the caller's stack unless it keeps the set
	if !z.rrset(n, t, &s) {
		return nil
	}
	return &s
}

func (z *Zone) rrset(n *Node, t uint16, s *RRset) bool {
	if z.Presigned != nil {
		if p, ok := z.Presigned.set(n, t); ok {
			if p != nil {
				*s = *p
				s.Shared = true
			}
			return p != nil
		}
	}
	return n.set(t, s, true)
}

// Len returns the number of names (including empty non-terminals).
func (z *Zone) Len() int { return z.nnodes }

// Build indexes a zone snapshot. Records whose owner is outside the zone or
// whose wire form does not unpack are rejected with the whole snapshot: a
// half-loaded zone would answer NXDOMAIN for names that exist.
func Build(s *snapshot.Zone) (*Zone, error) {
	h := s.GetHeader()
	name, err := checkHeader(h)
	if err != nil {
		return nil, err
	}
	if s.GetRecordsObject() != "" {
		return nil, fmt.Errorf("zone %q: records are in object %q, not loaded: %w", name, s.GetRecordsObject(), ErrInvalidZone)
	}
	z := newZone(h, name, len(s.GetRecords()))
	for i, rec := range s.GetRecords() {
		if err := z.add(wireRecord{id: []byte(rec.GetId()), rr: rec.GetRr(), proxied: rec.GetProxied(),
			flatten: rec.GetFlattenCname(), managed: managed.FromWire(rec.GetManagedBy())}); err != nil {
			return nil, fmt.Errorf("zone %q record %d: %w", name, i, err)
		}
	}
	z.finishBuild(h)
	return z, nil
}

// newZone returns an empty zone sized for n records, holding its apex.
func newZone(h *snapshot.ZoneHeader, name string, n int) *Zone {
	served := name
	if sn := h.GetServedName(); sn != "" {
		served = sn
	}
	z := &Zone{
		Name:    served,
		Key:     name,
		Labels:  dnsname.CountLabels(served),
		Version: h.GetVersion(),
		Header:  h,
		nodes:   newNodeIndex(n + 1),
		ids:     newIDIndex(n),
	}
	z.Apex = z.ensure(served)
	return z
}

// suffix is what a partial zone appends to its records' names (and to
// targets inside it); "" for every other zone.
func (z *Zone) suffix() string { return z.Name[len(z.key()):] }

// key is the name the zone is published under; a zone built by hand
// (tests) without one is published under its name.
func (z *Zone) key() string {
	if z.Key == "" {
		return z.Name
	}
	return z.Key
}

// add puts one record into a zone being built.
func (z *Zone) add(w wireRecord) error {
	r, owner, err := unpackRecord(z.key(), z.suffix(), w)
	if err != nil {
		return err
	}
	if r.rr == nil {
		return nil // not data this zone serves (SOA, apex NS, OPT)
	}
	enc, _, err := encodeRecord(r, w.rr, nil)
	if err != nil {
		return fmt.Errorf("%s: pack: %w", w.id, err)
	}
	z.addEncoded(owner, r.id, enc)
	return nil
}

// addEncoded appends one encoded record to the node of owner in a zone
// being built. A node's records are one string: most nodes get one record
// and keep the string made for it; a node past a few records grows in a
// buffer (z.grow) so that a name with thousands of records is not copied
// once per record.
func (z *Zone) addEncoded(owner string, id idKey, enc string) {
	nd := z.ensure(owner)
	appendData(nd, enc, &z.grow)
	z.ids.add(id, nd)
}

// appendData appends enc to the records of nd, a node of a zone being
// built, growing it in *grow past a few records.
func appendData(nd *Node, enc string, grow *map[*Node][]byte) {
	switch b, ok := (*grow)[nd]; {
	case ok:
		(*grow)[nd] = append(b, enc...)
	case nd.data == "":
		nd.data = enc
	case len(nd.data) < 256:
		nd.data += enc
	default:
		if *grow == nil {
			*grow = map[*Node][]byte{}
		}
		(*grow)[nd] = append([]byte(nd.data), enc...)
		nd.data = ""
	}
}

// finishBuild derives every node's sets, links wildcards and synthesizes
// the apex of a zone being built.
func (z *Zone) finishBuild(h *snapshot.ZoneHeader) {
	// The id index is sorted while the sets are derived, and the sets of
	// the index's shards are derived in parallel: each walks the whole
	// zone and only writes to its own nodes (a wildcard link writes the
	// parent's Wildcard field, which no derive reads).
	for nd, b := range z.grow {
		nd.data = string(b)
	}
	z.grow = nil
	sorted := make(chan struct{})
	go func() {
		z.ids.sortBase()
		close(sorted)
	}()
	defer func() { <-sorted }()
	workers := min(runtime.GOMAXPROCS(0), 8, z.nodes.shards())
	signed := make([]bool, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < z.nodes.shards(); i += workers {
				for _, nd := range (*z.nodes.at(uint32(i))).slots {
					if nd == nil {
						continue
					}
					nd.derive(z.Name)
					if nd.isWildcard() && !nd.Empty() {
						z.nodes.get(dnsname.Parent(nd.Name)).Wildcard = nd
					}
					signed[w] = signed[w] || nd.Has(dns.TypeRRSIG)
				}
			}
		}()
	}
	wg.Wait()
	z.synthesizeApex(h)
	if slices.Contains(signed, true) {
		z.Presigned = indexPresigned(z)
	}
}

// checkHeader returns the zone name of a header that can be served.
func checkHeader(h *snapshot.ZoneHeader) (string, error) {
	if h == nil {
		return "", fmt.Errorf("zone snapshot without header: %w", ErrInvalidZone)
	}
	name, err := dnsname.Normalize(h.GetName())
	if err != nil || name != h.GetName() {
		return "", fmt.Errorf("zone snapshot name %q: %w", h.GetName(), ErrInvalidZone)
	}
	// A partial zone is served as its name with the suffix appended
	// (suffix() cuts it there): anything else would index names outside
	// the zone, and a served name shorter than the name would not cut at
	// all. Checked before any record: a large zone's records are indexed
	// as they arrive, before the signature at the end is.
	if sn := h.GetServedName(); sn != "" {
		served, err := dnsname.Normalize(sn)
		if err != nil || served != sn || !strings.HasPrefix(served, name) ||
			(served != name && !dnsname.IsSubdomain(served[len(name):], ".")) {
			return "", fmt.Errorf("zone snapshot %q served name %q: %w", name, sn, ErrInvalidZone)
		}
	}
	served := name
	if sn := h.GetServedName(); sn != "" {
		served = sn
	}
	if err := checkApex(h, served); err != nil {
		return "", err
	}
	return name, nil
}

// wireRecord is a snapshot.Record's content, whether it was decoded into a
// message or read straight from the encoded snapshot (see BuildBytes).
type wireRecord struct {
	// id is a []byte so that BuildBytes reads it in place: a string
	// copy per record would be garbage next to the index being built.
	id               []byte
	rr               []byte
	proxied, flatten bool
	managed          managed.Product
}

// unpackRecord decodes one snapshot record of zone. A record the zone does
// not serve as data (SOA and apex NS come from the header, OPT is not data)
// comes back with a nil rr and no error. A partial zone's records (suffix
// not empty) are renamed below the suffix, and so are CNAME targets inside
// the zone: "since Cloudflare contains both the CNAME and its target" the
// chain resolves on the platform ("DNS resolution in partial zones"). A
// DNS-only CNAME at a partial zone's apex is not served: partial setups
// get no apex flattening.
func unpackRecord(zone, suffix string, w wireRecord) (record, string, error) {
	rr, end, err := dns.UnpackRR(w.rr, 0)
	if err != nil {
		return record{}, "", fmt.Errorf("%s: unpack: %w", w.id, err)
	}
	if rr == nil {
		return record{}, "", fmt.Errorf("%s: empty rr: %w", w.id, ErrInvalidZone)
	}
	if len(w.id) == 0 {
		return record{}, "", fmt.Errorf("record without id: %w", ErrInvalidZone)
	}
	hdr := rr.Header()
	owner, err := normalize(hdr.Name)
	if err != nil || !dnsname.IsSubdomain(owner, zone) {
		return record{}, "", fmt.Errorf("%s owner %q: %w", w.id, hdr.Name, ErrInvalidZone)
	}
	hdr.Name = owner
	hdr.Class = dns.ClassINET
	switch hdr.Rrtype {
	case dns.TypeSOA, dns.TypeOPT:
		return record{id: keyOf(w.id)}, owner + suffix, nil
	case dns.TypeNS:
		if owner == zone {
			return record{id: keyOf(w.id)}, owner + suffix, nil
		}
	case dns.TypeCNAME:
		if suffix != "" && owner == zone && !w.proxied {
			return record{id: keyOf(w.id)}, owner + suffix, nil
		}
	}
	// Targets are compared against stored (lower-case) names.
	switch v := rr.(type) {
	case *dns.CNAME:
		v.Target = strings.ToLower(dns.Fqdn(v.Target))
		if suffix != "" && dnsname.IsSubdomain(v.Target, zone) {
			v.Target += suffix
		}
	case *dns.NS:
		v.Ns = strings.ToLower(dns.Fqdn(v.Ns))
	}
	if suffix != "" {
		owner += suffix
		hdr.Name = owner
	}
	return record{id: keyOf(w.id), rr: rr, proxied: w.proxied, flatten: w.flatten, managed: w.managed, end: end}, owner, nil
}

// normalize is dnsname.Normalize, returning name itself when it is already
// normalized (lower case, fully qualified, valid labels): the common case of
// a million owners at load, where a copy per record is garbage next to the
// index being built.
func normalize(name string) (string, error) {
	if len(name) < 2 || len(name)-1 > dnsname.MaxNameLen || name[len(name)-1] != '.' {
		return dnsname.Normalize(name)
	}
	label := 0
	for i := 0; i < len(name)-1; i++ {
		switch c := name[i]; {
		case c == '.':
			if label == 0 {
				return dnsname.Normalize(name)
			}
			label = 0
			continue
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '*':
		default:
			return dnsname.Normalize(name)
		}
		if label++; label > dnsname.MaxLabelLen {
			return dnsname.Normalize(name)
		}
	}
	if label == 0 {
		return dnsname.Normalize(name)
	}
	return name, nil
}

// isWildcard reports whether the node's first label is "*": with records
// of its own it is the wildcard of its parent; "*" elsewhere is a literal.
func (n *Node) isWildcard() bool {
	return len(n.Name) > 2 && n.Name[0] == '*' && n.Name[1] == '.'
}

// ensure returns the node of name, creating it and every missing name
// between it and the apex (the empty non-terminals). Only for Build, which
// owns every node it creates.
func (z *Zone) ensure(name string) *Node {
	if n := z.nodes.get(name); n != nil {
		return n
	}
	n := &Node{Name: name}
	z.nodes.set(n)
	z.nnodes++
	z.linkParent(name)
	return n
}

// linkParent counts a new node of name (not the apex) as a child of its
// parent, creating the parent if needed.
func (z *Zone) linkParent(name string) {
	if name == z.Name {
		return
	}
	p := dnsname.Parent(name)
	if p == z.Name {
		z.Apex.children++ // the parent of most names, without a lookup
		return
	}
	z.ensure(p).children++
}

// apexRecords returns the SOA and NS records that header h gives the zone
// served as served.
func apexRecords(h *snapshot.ZoneHeader, served string) (*dns.SOA, []dns.RR) {
	soa := h.GetSoa()
	mname, rname := soa.GetMname(), soa.GetRname()
	if mname == "" && len(h.GetNameServers()) > 0 {
		mname = h.GetNameServers()[0]
	}
	if mname == "" {
		mname = served
	}
	if rname == "" {
		rname = "hostmaster." + served
	}
	s := &dns.SOA{
		Hdr:     dns.RR_Header{Name: served, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soa.GetTtl()},
		Ns:      dns.Fqdn(mname),
		Mbox:    dns.Fqdn(rname),
		Serial:  soa.GetSerial(),
		Refresh: soa.GetRefresh(),
		Retry:   soa.GetRetry(),
		Expire:  soa.GetExpire(),
		Minttl:  soa.GetMinimum(),
	}
	var ns []dns.RR
	for _, n := range h.GetNameServers() {
		ns = append(ns, &dns.NS{
			Hdr: dns.RR_Header{Name: served, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: h.GetNsTtl()},
			Ns:  dns.Fqdn(n),
		})
	}
	return s, ns
}

// checkApex refuses a header whose SOA or NS records do not pack (a name
// that is no domain name): synthesizeApex could not store them.
func checkApex(h *snapshot.ZoneHeader, served string) error {
	soa, ns := apexRecords(h, served)
	scratch := make([]byte, synthScratch)
	if _, err := dns.PackRR(soa, scratch, 0, nil, false); err != nil {
		return fmt.Errorf("zone snapshot %q SOA: %w: %w", served, err, ErrInvalidZone)
	}
	for _, r := range ns {
		if _, err := dns.PackRR(r, scratch, 0, nil, false); err != nil {
			return fmt.Errorf("zone snapshot %q NS %q: %w: %w", served, r.(*dns.NS).Ns, err, ErrInvalidZone)
		}
	}
	return nil
}

// synthesizeApex sets SOA and NS from the header and appends them to the
// apex's sets; the apex node must be owned by the caller.
func (z *Zone) synthesizeApex(h *snapshot.ZoneHeader) {
	z.SOA, z.NS = apexRecords(h, z.Name)
	neg := *z.SOA
	neg.Hdr.Ttl = min(h.GetSoa().GetTtl(), h.GetSoa().GetMinimum())
	z.NegSOA = &neg
	// Kept as ordinary records too, so that SOA and NS queries at the apex
	// take the same path as any other exact match.
	b := []byte(withoutSynth(z.Apex.data))
	scratch := make([]byte, synthScratch)
	b = appendSynth(b, scratch, z.SOA)
	for _, ns := range z.NS {
		b = appendSynth(b, scratch, ns)
	}
	z.Apex.data = string(b)
}
