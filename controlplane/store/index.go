package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// recordIndex holds the records of one zone in memory, as of the last
// zonemark revision the group committer saw, so that validating a write
// costs map lookups instead of etcd round trips. Names form a tree (each
// node links its children) so that "everything at or below a name" walks
// only that subtree.
//
// A complete index holds every record (zones up to
// Config.MaxPreloadRecords, read with one range scan). A partial one (larger
// zones) reads etcd on demand, at the group's revision, and remembers what
// it read: the names and subtrees whose records it holds and the ids whose
// presence it knows. Records the current group already changed are known,
// so what etcd returns for them (their committed state) is ignored.
type recordIndex struct {
	byID  map[string]*dnsv1.Record
	nodes map[string]*nameNode
	// markRev is the mod revision of zonemark/<zone_id> the index is
	// current with (0: the mark did not exist).
	markRev int64
	// count is the zone's record count at markRev (countKnown: set once a
	// group read it), so that a group whose mark has not moved need not
	// ask etcd to count the zone again (readGroup).
	count      int64
	countKnown bool

	complete bool
	known    map[string]bool // partial: ids in byID or known absent
	names    map[string]bool // partial: names whose records are all held
	trees    map[string]bool // partial: names whose subtrees are all held

	// Where on-demand reads go; set for each group.
	s      *Store
	zoneID string
	rev    int64
}

type nameNode struct {
	name     string
	parent   *nameNode
	children map[string]*nameNode
	recs     map[string]*dnsv1.Record
}

func newRecordIndex() *recordIndex {
	return &recordIndex{byID: map[string]*dnsv1.Record{}, nodes: map[string]*nameNode{}, complete: true}
}

// newPartialIndex returns an empty index that loads on demand from
// s's zone zoneID.
func newPartialIndex(s *Store, zoneID string, markRev int64) *recordIndex {
	x := newRecordIndex()
	x.complete, x.markRev, x.s, x.zoneID = false, markRev, s, zoneID
	x.known, x.names, x.trees = map[string]bool{}, map[string]bool{}, map[string]bool{}
	return x
}

// node returns the node of name, creating it and its ancestors if create.
func (x *recordIndex) node(name string, create bool) *nameNode {
	if n, ok := x.nodes[name]; ok || !create {
		return n
	}
	n := &nameNode{name: name}
	x.nodes[name] = n
	if name != "." {
		p := x.node(dnsname.Parent(name), true)
		if p.children == nil {
			p.children = map[string]*nameNode{}
		}
		p.children[name] = n
		n.parent = p
	}
	return n
}

// put stores r (owned by the index from now on), replacing the record with
// its id wherever it was.
func (x *recordIndex) put(r *dnsv1.Record) {
	x.remove(r.GetId())
	if !x.complete {
		x.known[r.GetId()] = true
	}
	n := x.node(r.GetName(), true)
	if n.recs == nil {
		n.recs = map[string]*dnsv1.Record{}
	}
	n.recs[r.GetId()] = r
	x.byID[r.GetId()] = r
}

// remove deletes the record with this id, if any, and prunes names left
// empty so that deleted subtrees do not linger.
func (x *recordIndex) remove(id string) {
	if !x.complete {
		x.known[id] = true
	}
	old, ok := x.byID[id]
	if !ok {
		return
	}
	delete(x.byID, id)
	n := x.nodes[old.GetName()]
	delete(n.recs, id)
	for n != nil && n.name != "." && len(n.recs) == 0 && len(n.children) == 0 {
		delete(x.nodes, n.name)
		delete(n.parent.children, n.name)
		n = n.parent
	}
}

// merge adds records read from etcd at x.rev, except those whose state
// the index already knows (read before, or changed by the group).
func (x *recordIndex) merge(rs []*dnsv1.Record) {
	for _, r := range rs {
		if !x.known[r.GetId()] {
			x.put(r)
		}
	}
}

// holds reports whether every record named name is in the index.
func (x *recordIndex) holds(name string, subtree bool) bool {
	if x.complete || !subtree && x.names[name] {
		return true
	}
	for n := name; ; n = dnsname.Parent(n) {
		if x.trees[n] {
			return true
		}
		if n == "." {
			return false
		}
	}
}

// load reads from etcd what the index lacks to answer for name.
func (x *recordIndex) load(ctx context.Context, name string, subtree bool) error {
	if x.holds(name, subtree) {
		return nil
	}
	x.s.metrics.indexLoads.WithLabelValues("on_demand").Inc()
	rs, err := x.s.recordsUnder(ctx, x.zoneID, name, !subtree, x.rev)
	if err != nil {
		return fmt.Errorf("read records at %s of zone %s: %w", name, x.zoneID, err)
	}
	x.merge(rs)
	if subtree {
		x.trees[name] = true
	} else {
		x.names[name] = true
	}
	return nil
}

// lookup makes the presence of these ids known, reading those it does not
// know in two etcd round trips whatever their number.
func (x *recordIndex) lookup(ctx context.Context, ids ...string) error {
	if x.complete {
		return nil
	}
	var missing []string
	asked := map[string]bool{}
	for _, id := range ids {
		if !x.known[id] && !asked[id] && validID(id) {
			asked[id] = true
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	x.s.metrics.indexLoads.WithLabelValues("on_demand").Inc()
	rs, err := x.s.recordsByIDs(ctx, x.zoneID, missing, x.rev)
	if err != nil {
		return err
	}
	x.merge(rs)
	for _, id := range missing {
		x.known[id] = true
	}
	return nil
}

// prefetch loads the exact names and ids a write is about to read in a few
// round trips instead of one per lookup.
func (x *recordIndex) prefetch(ctx context.Context, names, ids []string) error {
	if x.complete {
		return nil
	}
	var todo []string
	for _, n := range names {
		if !x.holds(n, false) {
			todo = append(todo, n)
		}
	}
	if len(todo) > 0 {
		x.s.metrics.indexLoads.WithLabelValues("on_demand").Inc()
		rs, err := x.s.recordsAtNames(ctx, x.zoneID, todo, x.rev)
		if err != nil {
			return err
		}
		x.merge(rs)
		for _, n := range todo {
			x.names[n] = true
		}
	}
	return x.lookup(ctx, ids...)
}

// at returns clones of the records named exactly name, ordered by id.
func (x *recordIndex) at(name string) []*dnsv1.Record {
	n := x.nodes[name]
	if n == nil {
		return nil
	}
	return cloneSorted(n.recs)
}

// under returns clones of the records at name or below it, parents first
// (the order of the etcd keys: reversed name, then id).
func (x *recordIndex) under(name string) []*dnsv1.Record {
	n := x.nodes[name]
	if n == nil {
		return nil
	}
	type keyed struct {
		rname string
		r     *dnsv1.Record
	}
	var all []keyed
	var walk func(n *nameNode)
	walk = func(n *nameNode) {
		rname := dnsname.Reverse(n.name)
		for _, r := range n.recs {
			all = append(all, keyed{rname, r})
		}
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(n)
	slices.SortFunc(all, func(a, b keyed) int {
		if c := strings.Compare(a.rname, b.rname); c != 0 {
			return c
		}
		return strings.Compare(a.r.GetId(), b.r.GetId())
	})
	out := make([]*dnsv1.Record, len(all))
	for i, k := range all {
		out[i] = protoClone(k.r)
	}
	return out
}

func cloneSorted(m map[string]*dnsv1.Record) []*dnsv1.Record {
	out := make([]*dnsv1.Record, 0, len(m))
	for _, r := range m {
		out = append(out, protoClone(r))
	}
	slices.SortFunc(out, func(a, b *dnsv1.Record) int { return strings.Compare(a.GetId(), b.GetId()) })
	return out
}

// loadIndex reads every record of a zone at rev into a new index.
func (s *Store) loadIndex(ctx context.Context, zoneID string, rev, markRev int64) (*recordIndex, error) {
	x := newRecordIndex()
	x.markRev = markRev
	if err := s.scanZone(ctx, zoneID, rev, x.put); err != nil {
		return nil, fmt.Errorf("load records of zone %s: %w", zoneID, err)
	}
	return x, nil
}

// indexView is the ZoneView of a grouped write: the zone and settings read
// for the group, and the records of the index (which already holds the
// earlier writes of the group). Results are clones: a callback may modify
// what it reads without touching the index.
type indexView struct {
	zone     *dnsv1.Zone
	settings *dnsv1.ZoneSettings
	x        *recordIndex
	// count is the zone's record count: as read for the group, plus what
	// the earlier writes of the group added and removed.
	count int
}

func (v *indexView) Zone() *dnsv1.Zone             { return v.zone }
func (v *indexView) Settings() *dnsv1.ZoneSettings { return v.settings }
func (v *indexView) Record(ctx context.Context, id string) (*dnsv1.Record, error) {
	if err := v.x.lookup(ctx, id); err != nil {
		return nil, err
	}
	r, ok := v.x.byID[id]
	if !ok {
		return nil, fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	return protoClone(r), nil
}
func (v *indexView) RecordsAt(ctx context.Context, name string) ([]*dnsv1.Record, error) {
	if err := v.x.load(ctx, name, false); err != nil {
		return nil, err
	}
	return v.x.at(name), nil
}
func (v *indexView) RecordsUnder(ctx context.Context, name string) ([]*dnsv1.Record, error) {
	if err := v.x.load(ctx, name, true); err != nil {
		return nil, err
	}
	return v.x.under(name), nil
}
func (v *indexView) RecordCount(context.Context) (int, error) { return v.count, nil }
func (v *indexView) Prefetch(ctx context.Context, names, ids []string) error {
	return v.x.prefetch(ctx, names, ids)
}
