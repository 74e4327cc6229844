package builder

import (
	"context"
	"slices"
	"strings"

	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Tenant isolation on the edges: a zone is served for its name only if it
// does not shadow the names of another account's active zone above it
// (README.md, "Served zone of a name"). The decision depends on the zones
// at every ancestor name and on the NS records of the governing parent, so
// the builder also recomputes the descendants of a name when a zone there
// appears, changes status or goes, and when NS records at a name that has
// zones at or below it change; nameTree finds those descendants in memory.

// serving returns the zone that serves name at rev, nil when none may:
// choose's pick, subject to the ancestors (see allowed). What it reads is
// kept in the builder's zone cache when that is at rev (cache.go).
func (b *Builder) serving(ctx context.Context, name string, rev int64) (*dnsv1.Zone, error) {
	names := ancestry(name)
	byName, err := b.st.ZonesNamedManyAt(ctx, names, rev)
	if err != nil {
		return nil, err
	}
	b.cache.keepZones(rev, byName)
	return b.decide(ctx, name, names, byName, rev, b.st.RecordsAtNameAt)
}

// recordsAtFunc reads the records of a zone named exactly name at rev:
// store.RecordsAtNameAt, or the zone cache's copy.
type recordsAtFunc func(ctx context.Context, zoneID, name string, rev int64) ([]*dnsv1.Record, error)

// decide is serving given the zones at name and its ancestors (names,
// nearest first), read at rev.
func (b *Builder) decide(ctx context.Context, name string, names []string, byName map[string][]*dnsv1.Zone, rev int64, recordsAt recordsAtFunc) (*dnsv1.Zone, error) {
	z := choose(byName[name])
	if z == nil {
		return nil, nil
	}
	ok, err := allowed(ctx, z, names[1:], byName, rev, recordsAt)
	if err != nil || !ok {
		return nil, err
	}
	return z, nil
}

// allowed applies the shadowing rule to z, the chosen zone of its name,
// given the zones at its ancestors (nearest first):
//
//   - the governing parent is the deepest active ancestor zone that is
//     itself allowed (walked from the top, so that an active zone which is
//     not served hands no authority down);
//   - an ACTIVE z is served with no governing parent, when the parent is
//     of the same account, or when the parent delegates z's name to z's
//     assigned nameservers (NS RRset at z's name in the parent's records);
//   - a PENDING z is served only if no ancestor zone is active: pending
//     zones never shadow anything.
func allowed(ctx context.Context, z *dnsv1.Zone, ancestors []string, byName map[string][]*dnsv1.Zone, rev int64, recordsAt recordsAtFunc) (bool, error) {
	var parent *dnsv1.Zone
	anyActive := false
	for i := len(ancestors) - 1; i >= 0; i-- {
		a := active(byName[ancestors[i]])
		if a == nil {
			continue
		}
		anyActive = true
		ok, err := governedBy(ctx, parent, a, rev, recordsAt)
		if err != nil {
			return false, err
		}
		if ok {
			parent = a
		}
	}
	if z.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		return !anyActive, nil
	}
	return governedBy(ctx, parent, z, rev, recordsAt)
}

// governedBy tells whether the active zone child may be served under the
// governing parent (nil: none).
func governedBy(ctx context.Context, parent, child *dnsv1.Zone, rev int64, recordsAt recordsAtFunc) (bool, error) {
	if parent == nil || parent.GetAccountId() == child.GetAccountId() {
		return true, nil
	}
	recs, err := recordsAt(ctx, parent.GetId(), child.GetName(), rev)
	if err != nil {
		return false, err
	}
	var ns []string
	for _, r := range recs {
		if strings.EqualFold(r.GetType(), "NS") {
			ns = append(ns, r.GetContent())
		}
	}
	want := dnsname.NormalizedSet(nameservers.Served(child))
	return len(want) > 0 && slices.Equal(dnsname.NormalizedSet(ns), want), nil
}

func active(zs []*dnsv1.Zone) *dnsv1.Zone {
	for _, z := range zs {
		if z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
			return z
		}
	}
	return nil
}

// nameTree holds every zone name (with the accounts holding it) as a tree
// of labels, so that "which zone names are at or below N" costs the depth
// of N plus the answer, not a read of every zone. Only the builder's main
// loop touches it.
type nameTree struct {
	root *treeNode
}

type treeNode struct {
	children map[string]*treeNode
	// accounts holding a zone of exactly this name.
	accounts map[string]bool
}

func newNameTree() *nameTree { return &nameTree{root: &treeNode{}} }

// labelsTopDown returns the labels of a normalized name, TLD first.
func labelsTopDown(name string) []string {
	if name == "." {
		return nil
	}
	l := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(l)
	return l
}

func (t *nameTree) add(name, account string) {
	n := t.root
	for _, l := range labelsTopDown(name) {
		c := n.children[l]
		if c == nil {
			if n.children == nil {
				n.children = map[string]*treeNode{}
			}
			c = &treeNode{}
			n.children[l] = c
		}
		n = c
	}
	if n.accounts == nil {
		n.accounts = map[string]bool{}
	}
	n.accounts[account] = true
}

func (t *nameTree) remove(name, account string) {
	labels := labelsTopDown(name)
	path := []*treeNode{t.root}
	n := t.root
	for _, l := range labels {
		if n = n.children[l]; n == nil {
			return
		}
		path = append(path, n)
	}
	delete(n.accounts, account)
	// Prune empty nodes so the tree stays bounded by the live zones.
	for i := len(labels); i > 0; i-- {
		c := path[i]
		if len(c.accounts) > 0 || len(c.children) > 0 {
			return
		}
		delete(path[i-1].children, labels[i-1])
	}
}

// under returns the zone names at (if inclusive) or below name.
func (t *nameTree) under(name string, inclusive bool) []string {
	n := t.root
	for _, l := range labelsTopDown(name) {
		if n = n.children[l]; n == nil {
			return nil
		}
	}
	var out []string
	var walk func(n *treeNode, name string, self bool)
	walk = func(n *treeNode, name string, self bool) {
		if len(n.accounts) > 0 && (!self || inclusive) {
			out = append(out, name)
		}
		for l, c := range n.children {
			walk(c, l+"."+name, false)
		}
	}
	walk(n, name, true)
	return out
}

// touchBelow adds the zone names at (if inclusive) or below name to the
// batch with their headers, so that their serving zone is decided again.
func (b *Builder) touchBelow(bt *batch, name string, inclusive bool) {
	for _, n := range b.tree.under(name, inclusive) {
		bt.names[n] = true
		bt.headers[n] = true
	}
}

// has tells whether some account holds a zone of exactly name.
func (t *nameTree) has(name string) bool {
	n := t.root
	for _, l := range labelsTopDown(name) {
		if n = n.children[l]; n == nil {
			return false
		}
	}
	return len(n.accounts) > 0
}

// delegationEvent handles a record change at a name where a zone exists
// (other than the record's own zone apex): NS records there delegate, or
// stop delegating, that name to the zone, which decides it and the zones
// below it. The record's type is not looked at: an update may have turned
// an NS record into another type, and a delete carries no value.
func (b *Builder) delegationEvent(bt *batch, dk store.DataKey) {
	if apex, ok := b.names[dk.ZoneID]; ok && apex == dk.Name {
		return
	}
	if !b.tree.has(dk.Name) {
		return
	}
	b.touchBelow(bt, dk.Name, true)
}

// loadTree fills the name tree with every zone name at rev, the revision
// the watch continues from, and starts the zone cache over at rev.
func (b *Builder) loadTree(ctx context.Context, rev int64) error {
	keys, err := b.st.ZoneNameKeysAt(ctx, rev)
	if err != nil {
		return err
	}
	t := newNameTree()
	for _, k := range keys {
		t.add(k.Name, k.AccountID)
	}
	b.tree = t
	// The zone cache starts over at the revision the watch continues
	// from, with the same index (cache.go).
	b.cache.reset(rev, keys)
	return nil
}
