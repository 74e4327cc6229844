package zonecache

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
)

// idIndex maps a record id to the name holding it, for the deletes and
// replacements of a delta. A million records make it the largest index of
// a zone, so a built zone holds it as one sorted array of 24-byte entries
// (the node, not its name: a pointer instead of a string header), with no
// map overhead and one object for the collector; the array is shared by
// every version derived from the build. A delta's changes go to the
// overlay, a sharded map copied on write like the name index, in which a
// deleted id maps to "".
type idIndex struct {
	base []idEntry
	over sharded[idKey, string, idHash]
}

// idEntry is one record of the built zone. node is the node the build made;
// a later version may hold a copy of it, under the same name.
type idEntry struct {
	id   idKey
	node *Node
}

// compareID orders ids as two big-endian words (bytes.Compare's order,
// without its call: the sort of a million ids is on the cold start).
func compareID(a, b idKey) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// maxOverlayShards bounds the overlay's shards: a delta copies the list of
// them (8 bytes each), and the overlay holds only the ids changed since the
// build, far fewer than the zone's.
const maxOverlayShards = 64

// newIDIndex returns an index for about n records, with an empty overlay
// of up to maxOverlayShards shards.
func newIDIndex(n int) idIndex {
	return idIndex{base: make([]idEntry, 0, n), over: newShardedEmpty[idKey, string, idHash](min(n, maxOverlayShards*shardTarget))}
}

// add appends a record of the zone being built; sortBase orders them.
func (x *idIndex) add(id idKey, n *Node) { x.base = append(x.base, idEntry{id, n}) }

// sortBase sorts the built entries; of entries with the same id (a
// snapshot that repeats one, which the control plane never writes) the one
// of the greatest name is kept, whatever the order of the records.
func (x *idIndex) sortBase() {
	slices.SortFunc(x.base, func(a, b idEntry) int {
		if c := compareID(a.id, b.id); c != 0 {
			return c
		}
		return strings.Compare(a.node.Name, b.node.Name)
	})
	out := x.base[:0]
	for i, e := range x.base {
		if i+1 < len(x.base) && x.base[i+1].id == e.id {
			continue
		}
		out = append(out, e)
	}
	clear(x.base[len(out):])
	x.base = slices.Clip(out)
}

// owner returns the name holding the record with this id.
func (x *idIndex) owner(id idKey) (string, bool) {
	if len(x.over.shards) > 0 {
		if name, ok := x.over.lookup(id); ok {
			return name, name != ""
		}
	}
	return x.inBase(id)
}

func (x *idIndex) inBase(id idKey) (string, bool) {
	i, ok := slices.BinarySearchFunc(x.base, id, func(e idEntry, k idKey) int { return compareID(e.id, k) })
	if !ok {
		return "", false
	}
	return x.base[i].node.Name, true
}
