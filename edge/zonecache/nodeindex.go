package zonecache

// nodeIndex maps names to nodes. A Go map of a million names costs about
// 53 bytes a name (key string header, value pointer, control bytes, load
// factor); here each shard is an open-addressing table of node pointers
// (linear probing) keyed by the node's own Name, so a name costs one
// pointer slot at a load of at most 0.8: about 10 bytes. Shards are picked
// by the low bits of the name's FNV-1a hash, slots by all of it; a version
// made by a delta shares every shard it did not write to (nodeWriter).
type nodeIndex struct {
	// groups holds the shards 64 at a time, so that a delta copies the
	// list of groups and the one group it writes to (about 1 KB for a
	// million names) instead of every shard pointer (32 KB): the garbage
	// a stream of deltas leaves is what makes an edge's heap grow.
	groups []*nodeGroup
	mask   uint32
}

const groupBits = 6

type nodeGroup [1 << groupBits]*nodeTable

// nodeTable is one shard: slots, nil where empty, never more than
// maxLoad full, so that a probe always reaches an empty slot.
type nodeTable struct {
	slots []*Node
	n     int
}

const maxLoadNum, maxLoadDen = 4, 5

func newNodeIndex(n int) nodeIndex {
	k := 1
	for k*shardTarget < n {
		k <<= 1
	}
	x := nodeIndex{groups: make([]*nodeGroup, (k+len(nodeGroup{})-1)>>groupBits), mask: uint32(k - 1)}
	per := n/k + 1
	for i := range x.groups {
		x.groups[i] = &nodeGroup{}
	}
	for i := range k {
		*x.at(uint32(i)) = &nodeTable{slots: make([]*Node, per*maxLoadDen/maxLoadNum+1)}
	}
	return x
}

// shards returns the number of shards.
func (x *nodeIndex) shards() int { return int(x.mask) + 1 }

// at returns the place of shard i.
func (x *nodeIndex) at(i uint32) **nodeTable { return &x.groups[i>>groupBits][i&(1<<groupBits-1)] }

// table returns the shard of hash h.
func (x *nodeIndex) table(h uint32) *nodeTable { return *x.at(h & x.mask) }

// home is the first slot to probe for a name of hash h in a table of
// size slots. Every name of a shard has the same low bits, so the hash is
// mixed again (murmur3's finalizer) and mapped onto [0, size) by
// multiplication (any size, no division).
func (x *nodeIndex) home(h uint32, size int) int {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return int((uint64(h) * uint64(size)) >> 32)
}

func (x *nodeIndex) get(name string) *Node { return x.getHash(name, fnv1a(name)) }

// getHash is get for a name whose hash the caller has (the loader's
// workers compute it).
func (x *nodeIndex) getHash(name string, h uint32) *Node {
	t := x.table(h)
	if t == nil || len(t.slots) == 0 {
		return nil
	}
	for i := x.home(h, len(t.slots)); ; {
		s := t.slots[i]
		if s == nil || s.Name == name {
			return s
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// nodeBytes is get for a name held in a byte slice, without allocating.
func nodeBytes(x *nodeIndex, name []byte) *Node {
	h := fnv1aBytes(name)
	t := x.table(h)
	if t == nil || len(t.slots) == 0 {
		return nil
	}
	for i := x.home(h, len(t.slots)); ; {
		s := t.slots[i]
		if s == nil || s.Name == string(name) {
			return s
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// set puts n under its name, in place: only for a table nobody else can
// see yet (Build, or a shard a writer copied).
func (x *nodeIndex) set(n *Node) { x.setHash(n, fnv1a(n.Name)) }

// setHash is set for a node whose name's hash the caller has. Writers of
// different shards (h&mask) do not touch each other's memory.
func (x *nodeIndex) setHash(n *Node, h uint32) {
	t := x.table(h)
	if (t.n+1)*maxLoadDen > len(t.slots)*maxLoadNum {
		x.grow(t)
	}
	for i := x.home(h, len(t.slots)); ; {
		switch s := t.slots[i]; {
		case s == nil:
			t.slots[i] = n
			t.n++
			return
		case s.Name == n.Name:
			t.slots[i] = n
			return
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// grow rehashes t into twice as many slots.
func (x *nodeIndex) grow(t *nodeTable) {
	old := t.slots
	t.slots, t.n = make([]*Node, 2*len(old)+1), 0
	for _, s := range old {
		if s != nil {
			x.place(t, s)
		}
	}
}

// place inserts a node known to be absent into a table with room.
func (x *nodeIndex) place(t *nodeTable, n *Node) {
	for i := x.home(fnv1a(n.Name), len(t.slots)); ; {
		if t.slots[i] == nil {
			t.slots[i] = n
			t.n++
			return
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// del removes name in place (same rule as set), moving back the entries
// after it in its probe run so that every entry stays reachable from its
// home slot (deletion without tombstones).
func (x *nodeIndex) del(name string) {
	h := fnv1a(name)
	t := x.table(h)
	size := len(t.slots)
	if size == 0 {
		return
	}
	i := x.home(h, size)
	for {
		s := t.slots[i]
		if s == nil {
			return
		}
		if s.Name == name {
			break
		}
		if i++; i == size {
			i = 0
		}
	}
	t.slots[i] = nil
	t.n--
	for j := i; ; {
		if j++; j == size {
			j = 0
		}
		s := t.slots[j]
		if s == nil {
			return
		}
		// s may move to the hole at i unless its home lies cyclically
		// in (i, j]: then the probe from home to j would not pass i.
		k := x.home(fnv1a(s.Name), size)
		if (i < j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			t.slots[i], t.slots[j] = s, nil
			i = j
		}
	}
}

func (x *nodeIndex) each(fn func(*Node) bool) {
	for i := range x.shards() {
		for _, s := range (*x.at(uint32(i))).slots {
			if s != nil && !fn(s) {
				return
			}
		}
	}
}

// nodeWriter edits a copy of a nodeIndex that shares untouched shards
// (and groups of shards) with the original: each is copied on its first
// write.
type nodeWriter struct {
	s            nodeIndex
	copied       map[uint32]bool
	copiedGroups map[uint32]bool
}

func newNodeWriter(orig nodeIndex) *nodeWriter {
	s := orig
	s.groups = append([]*nodeGroup(nil), orig.groups...)
	return &nodeWriter{s: s, copied: map[uint32]bool{}, copiedGroups: map[uint32]bool{}}
}

func (w *nodeWriter) own(name string) {
	i := fnv1a(name) & w.s.mask
	if w.copied[i] {
		return
	}
	w.copied[i] = true
	if g := i >> groupBits; !w.copiedGroups[g] {
		w.copiedGroups[g] = true
		c := *w.s.groups[g]
		w.s.groups[g] = &c
	}
	t := &nodeTable{}
	if o := *w.s.at(i); o != nil {
		t.slots, t.n = append([]*Node(nil), o.slots...), o.n
	}
	if len(t.slots) == 0 {
		t.slots = make([]*Node, 4)
	}
	*w.s.at(i) = t
}

func (w *nodeWriter) set(n *Node) { w.own(n.Name); w.s.set(n) }

func (w *nodeWriter) del(name string) { w.own(name); w.s.del(name) }
