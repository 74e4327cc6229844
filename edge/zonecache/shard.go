package zonecache

import (
	"crypto/sha256"
	"maps"
)

// idKey is a record id in 16 bytes: the control plane's ids are 32 hex
// characters, decoded here (a million ids: 32 MB less than as strings);
// any other id is represented by the first 16 bytes of its SHA-256.
type idKey [16]byte

func keyOf[T string | []byte](id T) idKey {
	var k idKey
	if len(id) == 2*len(k) {
		// Only lower-case hex decodes (an upper-case id is another id,
		// hashed): checked and decoded in one pass, a table look-up a
		// character (a million ids are on the cold start).
		var bad byte
		for i := range k {
			hi, lo := hexValue[id[2*i]], hexValue[id[2*i+1]]
			bad |= hi | lo
			k[i] = hi<<4 | lo
		}
		if bad < 16 {
			return k
		}
	}
	sum := sha256.Sum256([]byte(id))
	copy(k[:], sum[:16])
	return k
}

// hexValue maps a lower-case hex digit to its value and any other byte to
// 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// shardTarget is the number of entries a shard aims at: small enough that
// copying one for a delta costs microseconds, large enough that a small
// zone is a single map.
const shardTarget = 256

// sharded is a map split by key hash into a power-of-two number of maps.
// A zone version shares every shard with the version it was derived from
// except those a delta wrote to (see writer).
type sharded[K comparable, V any, H hasher[K]] struct {
	shards []map[K]V
	mask   uint32
}

// hasher picks a key's shard; implemented by zero-size types so that the
// choice costs no allocation.
type hasher[K any] interface{ hash(K) uint32 }

type idHash struct{}

// hash of an idKey covers all its bytes: ids need not be random (a
// sequence would put every id in one shard if only a prefix were used).
func (idHash) hash(k idKey) uint32 { return fnv1aBytes(k[:]) }

func newSharded[K comparable, V any, H hasher[K]](n int) sharded[K, V, H] {
	k := 1
	for k*shardTarget < n {
		k <<= 1
	}
	s := sharded[K, V, H]{shards: make([]map[K]V, k), mask: uint32(k - 1)}
	for i := range s.shards {
		s.shards[i] = make(map[K]V, n/k+1)
	}
	return s
}

// newShardedEmpty is newSharded with every shard nil, for an overlay that
// starts empty: a writer makes a shard on its first write.
func newShardedEmpty[K comparable, V any, H hasher[K]](n int) sharded[K, V, H] {
	k := 1
	for k*shardTarget < n {
		k <<= 1
	}
	return sharded[K, V, H]{shards: make([]map[K]V, k), mask: uint32(k - 1)}
}

func (s *sharded[K, V, H]) shard(k K) uint32 {
	var h H
	return h.hash(k) & s.mask
}

// fnv1a is FNV-1a over a string; inlined so that lookups do not allocate.
// An adversary choosing names can only unbalance shards, not the Go maps
// inside them, which are seeded per process.
func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func fnv1aBytes(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func (s *sharded[K, V, H]) get(k K) V { return s.shards[s.shard(k)][k] }

func (s *sharded[K, V, H]) lookup(k K) (V, bool) {
	v, ok := s.shards[s.shard(k)][k]
	return v, ok
}

// set writes in place: only for a map nobody else can see yet (Build).
func (s *sharded[K, V, H]) set(k K, v V) { s.shards[s.shard(k)][k] = v }

func (s *sharded[K, V, H]) each(fn func(V)) {
	for _, m := range s.shards {
		for _, v := range m {
			fn(v)
		}
	}
}

// writer edits a copy of a sharded map that shares untouched shards with
// the original: each shard is copied on its first write.
type writer[K comparable, V any, H hasher[K]] struct {
	s      sharded[K, V, H]
	copied map[uint32]bool
}

func newWriter[K comparable, V any, H hasher[K]](orig sharded[K, V, H]) *writer[K, V, H] {
	return &writer[K, V, H]{
		s:      sharded[K, V, H]{shards: append([]map[K]V(nil), orig.shards...), mask: orig.mask},
		copied: map[uint32]bool{},
	}
}

func (w *writer[K, V, H]) shard(k K) map[K]V {
	i := w.s.shard(k)
	if !w.copied[i] {
		w.s.shards[i] = maps.Clone(w.s.shards[i])
		if w.s.shards[i] == nil {
			w.s.shards[i] = map[K]V{}
		}
		w.copied[i] = true
	}
	return w.s.shards[i]
}

func (w *writer[K, V, H]) set(k K, v V) { w.shard(k)[k] = v }

func (w *writer[K, V, H]) del(k K) { delete(w.shard(k), k) }
