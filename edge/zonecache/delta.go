package zonecache

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/managed"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// ApplyDelta returns the version of z that d produces, leaving z as it is
// (readers may hold it). It requires from_version <= z.Version <
// to_version: a zone's records do not change between the version a delta
// starts from and its to_version less one (the builder publishes every
// change), and a full snapshot may be taken anywhere in that range, so a
// delta applies to any version inside it. The caller decides what other
// cases mean (duplicate or gap). Only the names the delta
// touches, their ancestors whose child count changes and the index shards
// holding them are copied, so a one-record change costs O(that name), not
// O(zone). A delta that does not apply cleanly is rejected whole.
func ApplyDelta(z *Zone, d *snapshot.ZoneDelta) (*Zone, error) {
	if d.GetName() != z.key() {
		return nil, fmt.Errorf("delta for zone %q applied to zone %q: %w", d.GetName(), z.key(), ErrInvalidZone)
	}
	if id := d.GetZoneId(); id != "" && id != z.Header.GetZoneId() {
		return nil, fmt.Errorf("delta of zone id %q applied to zone id %q: %w", id, z.Header.GetZoneId(), ErrInvalidZone)
	}
	if d.GetFromVersion() > z.Version || d.GetToVersion() <= z.Version {
		return nil, fmt.Errorf("delta %d→%d of zone %q applied to version %d: %w",
			d.GetFromVersion(), d.GetToVersion(), z.Name, z.Version, ErrInvalidZone)
	}
	h := d.GetHeader()
	if h != nil {
		if _, err := checkHeader(h); err != nil {
			return nil, err
		}
		if h.GetName() != z.key() || h.GetServedName() != z.Header.GetServedName() || h.GetVersion() != d.GetToVersion() || h.GetFormat() != snapshot.FormatVersion {
			return nil, fmt.Errorf("delta %d→%d of zone %q carries header of %q version %d: %w",
				d.GetFromVersion(), d.GetToVersion(), z.Name, h.GetName(), h.GetVersion(), ErrInvalidZone)
		}
	} else {
		// Every version has its own SOA serial (the version, as the
		// builder compiles it); the rest of the header is unchanged.
		h = proto.Clone(z.Header).(*snapshot.ZoneHeader)
		h.Version = d.GetToVersion()
		if h.Soa == nil {
			h.Soa = &snapshot.Soa{}
		}
		h.Soa.Serial = uint32(d.GetToVersion())
	}
	e := &editor{
		z:     z,
		nodes: newNodeWriter(z.nodes),
		ids:   newWriter(z.ids.over),
		work:  map[string]*Node{},
		recs:  map[*Node][]byte{},
		nn:    z.nnodes,
	}
	for _, id := range d.GetDeletes() {
		e.remove(keyOf(id))
	}
	for i, rec := range d.GetUpserts() {
		r, owner, err := unpackRecord(z.key(), z.suffix(), wireRecord{id: []byte(rec.GetId()), rr: rec.GetRr(), proxied: rec.GetProxied(),
			flatten: rec.GetFlattenCname(), managed: managed.FromWire(rec.GetManagedBy())})
		if err != nil {
			return nil, fmt.Errorf("zone %q delta to %d upsert %d: %w", z.Name, d.GetToVersion(), i, err)
		}
		e.remove(r.id)
		if r.rr == nil {
			continue
		}
		var enc string
		if enc, e.scratch, err = encodeRecord(r, rec.GetRr(), e.scratch); err != nil {
			return nil, fmt.Errorf("zone %q delta to %d upsert %d: pack: %w", z.Name, d.GetToVersion(), i, err)
		}
		n := e.ensure(owner)
		e.recs[n] = append(e.recs[n], enc...)
		e.ids.set(r.id, n.Name)
	}
	return e.finish(h), nil
}

// editor derives a zone version: nodes it changes are copies in work.
type editor struct {
	z     *Zone
	nodes *nodeWriter
	ids   *writer[idKey, string, idHash] // the overlay of z.ids
	work  map[string]*Node
	// recs holds the encoded records of the nodes in work while the delta
	// edits them; finish stores them in the nodes.
	recs    map[*Node][]byte
	scratch []byte
	nn      int
}

// get returns the editable copy of an existing node, or nil.
func (e *editor) get(name string) *Node {
	if n, ok := e.work[name]; ok {
		return n
	}
	old := e.nodes.s.get(name)
	if old == nil {
		return nil
	}
	n := *old
	e.recs[&n] = []byte(withoutSynth(old.data))
	n.data = ""
	e.work[name] = &n
	return &n
}

// ensure returns the editable node of name, creating it and its missing
// ancestors.
func (e *editor) ensure(name string) *Node {
	if n := e.get(name); n != nil {
		return n
	}
	n := &Node{Name: name}
	e.work[name] = n
	e.recs[n] = nil
	e.nn++
	if name != e.z.Name {
		e.ensure(dnsname.Parent(name)).children++
	}
	return n
}

// remove takes the record with this id out of its node, if held.
func (e *editor) remove(id idKey) {
	x := idIndex{base: e.z.ids.base, over: e.ids.s}
	owner, ok := x.owner(id)
	if !ok {
		return
	}
	// An id of the build stays in its sorted array: the overlay says it
	// is gone. Any other id simply leaves the overlay.
	if _, built := x.inBase(id); built {
		e.ids.set(id, "")
	} else {
		e.ids.del(id)
	}
	n := e.get(owner)
	if n == nil {
		return
	}
	b := e.recs[n]
	for off := 0; off < len(b); {
		r := packedRec{unsafeString(b), off}
		end := r.end()
		if r.id() == id {
			b = append(b[:off], b[end:]...)
			continue
		}
		off = end
	}
	e.recs[n] = b
}

// finish drops names left empty, fixes wildcard links, derives the sets of
// every changed node and returns the new zone.
func (e *editor) finish(h *snapshot.ZoneHeader) *Zone {
	// A name without records and without children no longer exists; its
	// parent may then be an empty non-terminal with nothing below it.
	dead := map[string]bool{}
	for _, name := range sortedKeys(e.work) {
		for n := e.work[name]; n != nil && n.Name != e.z.Name && len(e.recs[n]) == 0 && n.children == 0 && !dead[n.Name]; {
			dead[n.Name] = true
			p := e.ensure(dnsname.Parent(n.Name))
			p.children--
			n = p
		}
	}
	// A "*" name is its parent's wildcard exactly while it has records.
	for _, name := range sortedKeys(e.work) {
		n := e.work[name]
		if !n.isWildcard() || dead[dnsname.Parent(name)] {
			continue
		}
		p := e.get(dnsname.Parent(name))
		switch {
		case dead[name] || len(e.recs[n]) == 0:
			if p.Wildcard != nil && p.Wildcard.Name == name {
				p.Wildcard = nil
			}
		default:
			p.Wildcard = n
		}
	}
	nz := &Zone{Name: e.z.Name, Key: e.z.Key, Labels: e.z.Labels, Version: h.GetVersion(), Header: h}
	apex := e.get(e.z.Name)
	for name, n := range e.work {
		if dead[name] {
			e.nodes.del(name)
			e.nn--
			continue
		}
		n.data = string(e.recs[n])
		n.derive(e.z.Name)
		e.nodes.set(n)
	}
	// A copied node whose "*" child was not copied still points at that
	// child, which is unchanged: no fix-up needed.
	nz.Apex = apex
	nz.nodes, nz.ids, nz.nnodes = e.nodes.s, idIndex{base: e.z.ids.base, over: e.ids.s}, e.nn
	nz.synthesizeApex(h)
	if e.z.Presigned != nil || signedNodes(e.work) {
		// Rare: secondary zones are published as full snapshots. The index
		// is rebuilt whole; a zone that lost its last RRSIG gets none.
		nz.Presigned = indexPresigned(nz)
	}
	return nz
}

func sortedKeys(m map[string]*Node) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	// Deepest names first, so that a chain of empty names is removed from
	// the leaf up in one pass.
	slices.SortFunc(out, func(a, b string) int { return dnsname.CountLabels(b) - dnsname.CountLabels(a) })
	return out
}
