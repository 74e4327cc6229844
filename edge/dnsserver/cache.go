package dnsserver

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zonegrid/zonegrid/edge/answer"
)

// The answer cache keeps answers packed, so that a repeated question costs
// a table lookup and a copy instead of the engine and the packer. An entry
// records what its answer depended on (answer.Info: the zone and its
// version, the account setting the rules read) and is used only while
// Engine.Unchanged says those are unchanged; answers that depended on
// anything else (another zone, an upstream) are never stored. So a new
// zone version or a flipped enforce_dns_only takes effect on the very next
// query, with no invalidation step to forget.
//
// The table has a fixed number of slots and each question two candidate
// slots (two-choice hashing: far fewer hot questions evict each other than
// with one). Its memory is bounded whatever the clients ask (a flood of
// random names only replaces entries), and readers need no lock (at most
// two atomic loads per query).

// DefaultCacheSlots is the default size of the answer cache: 131,072
// entries. An entry is about 150 bytes (the struct, its name, its slot)
// plus its packed answer, bounded by maxCachedAnswer and maxCachedSigned:
// full, the cache holds ~40 MiB with typical unsigned answers, ~70 MiB
// with typical signed ones, ~180 MiB at worst (every entry a maximal
// signed answer); it fills only with distinct questions actually asked.
// It was 32,768 until signing: a miss of a signed answer costs an ECDSA
// signature (~50 µs here) instead of ~1 µs, so the cache must hold the
// working set of questions, and 32,768 slots held less than the reference
// mix's ~45,000 distinct questions (docs/BENCHMARKS.md, signed run).
// PowerDNS's packet cache defaults to 1,000,000 entries, for comparison.
const DefaultCacheSlots = 1 << 17

// maxCachedAnswer bounds the packed size of a cached answer: larger ones
// are rare and not worth the memory. Signed answers (DO) are larger by
// nature (an RRSIG is about 100 bytes, a denial adds an NSEC and two) and
// every one kept saves an ECDSA signature, so they may take up to
// maxCachedSigned.
const (
	maxCachedAnswer = 512
	maxCachedSigned = EDNSBufferSize
)

type cacheEntry struct {
	// hash is the key's (set by put), compared before the name so that
	// the other question of a shared slot costs no read of its name.
	hash uint64
	// name is the question's, lower-cased and fully qualified. It and
	// tail are views of one string, so that a hit reads one allocation
	// besides the entry (every one is a cache miss of the processor at
	// the rates the edge serves: profiled, docs/BENCHMARKS.md).
	name   string
	qtype  uint16
	qclass uint16
	// do is the query's DO bit, part of the key: the answer to a DO query
	// of a signed zone carries DNSSEC records, the other does not.
	do bool
	// staleAt (unix seconds) is when the entry's signatures are too close
	// to expiring to be served again (dnssec.StaleAt); 0: no signatures.
	staleAt int64
	info    answer.Info
	// flags2 and flags3 are the answer's header bytes 2 and 3 without the
	// bits copied from the query (RD, CD).
	flags2, flags3 byte
	an, ns, ar     uint16 // section counts, OPT not included
	// fullLen is the uncompressed length of the whole answer without OPT,
	// the measure truncation uses.
	fullLen int
	// tail is the packed answer after the question, without OPT, packed
	// for the lower-cased question. Its compression pointers into the
	// question stay valid for every spelling of the name: the same labels,
	// hence the same offsets; they read in the case of the question the
	// answer is sent with.
	tail string
}

type answerCache struct {
	slots []atomic.Pointer[cacheEntry]
	mask  uint64
	seed  maphash.Seed
}

func newAnswerCache(slots int) *answerCache {
	if slots <= 0 {
		return nil
	}
	n := 1
	for n < slots {
		n <<= 1
	}
	return &answerCache{slots: make([]atomic.Pointer[cacheEntry], n), mask: uint64(n - 1), seed: maphash.MakeSeed()}
}

// keyHash is the hash of a key whose name hashed to h: maphash of the
// name (hardware AES where there is, several times faster than a
// byte-at-a-time hash; seeded per process, so that no client can aim names
// at one slot; maphash.Bytes and String agree), then the type, class and
// DO bit mixed in by a multiply-xorshift round (splitmix64's), which
// carries every bit to both halves that pick the two slots.
func keyHash(h uint64, qtype, qclass uint16, do bool) uint64 {
	k := uint64(qtype) | uint64(qclass)<<16
	if do {
		k |= 1 << 32
	}
	h ^= k
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 31
	return h
}

// get returns the entry for the question, or nil; it does not check
// whether the entry is still valid.
func (c *answerCache) get(name []byte, qtype, qclass uint16, do bool) *cacheEntry {
	h := keyHash(maphash.Bytes(c.seed, name), qtype, qclass, do)
	if e := c.slots[h&c.mask].Load(); e.is(h, name, qtype, qclass, do) {
		return e
	}
	if e := c.slots[(h>>32)&c.mask].Load(); e.is(h, name, qtype, qclass, do) {
		return e
	}
	return nil
}

func (e *cacheEntry) is(h uint64, name []byte, qtype, qclass uint16, do bool) bool {
	return e != nil && e.hash == h && e.qtype == qtype && e.qclass == qclass && e.do == do && e.name == string(name)
}

// fresh reports whether the entry's signatures may still be served; an
// unsigned entry always may (and costs no clock reading).
func (e *cacheEntry) fresh() bool {
	return e.staleAt == 0 || unixNow() < e.staleAt
}

// clock is a coarse unix clock for fresh: time.Now costs about 50 ns on
// hosts without a vDSO clock source (measured here: a third of a cache
// hit), and a second's precision is plenty against a margin of days. The
// ticker starts with the first signed entry and runs for the process.
var clock struct {
	once sync.Once
	now  atomic.Int64
}

func unixNow() int64 {
	clock.once.Do(func() {
		clock.now.Store(time.Now().Unix())
		go func() {
			for t := range time.Tick(time.Second) {
				clock.now.Store(t.Unix())
			}
		}()
	})
	return clock.now.Load()
}

// negative reports whether the entry is an error answer (NXDOMAIN,
// REFUSED, or the compact NOERROR form of an NXDOMAIN): the kind a flood of
// random names produces.
func (e *cacheEntry) negative() bool { return e.flags3&0x0f != 0 || e.info.CompactNX }

// put stores e in the first of its slots that is free or holds the same
// question. Otherwise it replaces a negative answer, preferably; a
// positive answer may also replace a positive one (chosen by the hash),
// a negative one may not: random names asked at a high rate then only
// churn among themselves and never push the zone's real names out.
func (c *answerCache) put(e *cacheEntry) {
	h := keyHash(maphash.String(c.seed, e.name), e.qtype, e.qclass, e.do)
	e.hash = h
	a, b := &c.slots[h&c.mask], &c.slots[(h>>32)&c.mask]
	oa, ob := a.Load(), b.Load()
	switch {
	case oa == nil || oa.same(e):
		a.Store(e)
	case ob == nil || ob.same(e):
		b.Store(e)
	case oa.negative():
		a.Store(e)
	case ob.negative():
		b.Store(e)
	case e.negative():
		// Both slots hold positive answers: keep them.
	case h&(1<<31) != 0:
		a.Store(e)
	default:
		b.Store(e)
	}
}

func (e *cacheEntry) same(o *cacheEntry) bool {
	return e.name == o.name && e.qtype == o.qtype && e.qclass == o.qclass && e.do == o.do
}
