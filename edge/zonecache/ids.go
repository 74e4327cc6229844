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

// compareEntry orders entries by id, then name: sortBase keeps the last
// of equal ids.
func compareEntry(a, b idEntry) int {
	if c := compareID(a.id, b.id); c != 0 {
		return c
	}
	return strings.Compare(a.node.Name, b.node.Name)
}

// sortBase sorts the built entries; of entries with the same id (a
// snapshot that repeats one, which the control plane never writes) the one
// of the greatest name is kept, whatever the order of the records.
func (x *idIndex) sortBase() {
	radixSort(x.base, 0)
	out := x.base[:0]
	for i, e := range x.base {
		if i+1 < len(x.base) && x.base[i+1].id == e.id {
			continue
		}
		out = append(out, e)
	}
	clear(x.base[len(out):])
	if cap(out)-len(out) > len(out)/8 {
		// Sized by an estimate (a streamed load) or thinned by repeated
		// ids: the largest array of a zone is kept at its size.
		x.base = slices.Clone(out)
	} else {
		x.base = slices.Clip(out)
	}
}

// radixSortMin is the size below which radixSort compares instead.
const radixSortMin = 48

// radixSort puts a, whose ids agree on their first d bytes, in
// compareEntry's order: in place, bucketing by byte d (American flag
// sort) and recursing into each bucket, comparing only small buckets. Ids
// are random hex, so two passes leave buckets of a few entries: for a
// million-record zone's ids it takes 0.26 s against 0.77-1.08 s for the
// comparison sort (BenchmarkSortIDs), on the cold start's critical path.
func radixSort(a []idEntry, d int) {
	for {
		if len(a) <= radixSortMin || d == len(idKey{}) {
			slices.SortFunc(a, compareEntry)
			return
		}
		var count [256]int
		for i := range a {
			count[a[i].id[d]]++
		}
		if count[a[0].id[d]] == len(a) {
			d++ // one bucket: on to the next byte
			continue
		}
		var next, end [256]int
		sum := 0
		for b, c := range count {
			next[b] = sum
			sum += c
			end[b] = sum
		}
		for b := range 256 {
			for next[b] < end[b] {
				e := a[next[b]]
				for t := e.id[d]; int(t) != b; t = e.id[d] {
					e, a[next[t]] = a[next[t]], e
					next[t]++
				}
				a[next[b]] = e
				next[b]++
			}
		}
		lo := 0
		for _, c := range count {
			if c > 1 {
				radixSort(a[lo:lo+c], d+1)
			}
			lo += c
		}
		return
	}
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
