package zonecache

import (
	"sync"
	"sync/atomic"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// setShards is the number of copy-on-write shards of Set and Accounts. A
// write copies one shard, so loading N zones costs O(N²/setShards) map
// copies instead of O(N²): 10,000 zones load in milliseconds, not seconds.
const setShards = 256

// cowMap is a string-keyed map that readers use without locks: each shard
// is an immutable map behind an atomic pointer; writers copy the one shard
// they change under a mutex, so a reader never waits for a writer and never
// sees half of a write.
type cowMap[V any] struct {
	mu     sync.Mutex
	shards [setShards]atomic.Pointer[map[string]V]
}

func (m *cowMap[V]) shard(k string) *atomic.Pointer[map[string]V] {
	return &m.shards[fnv1a(k)&(setShards-1)]
}

func (m *cowMap[V]) get(k string) (V, bool) {
	p := m.shard(k).Load()
	if p == nil {
		var zero V
		return zero, false
	}
	v, ok := (*p)[k]
	return v, ok
}

// update replaces or removes k (del) when keep approves of the value held;
// it reports whether the map changed.
func (m *cowMap[V]) update(k string, v V, del bool, keep func(old V, held bool) bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh := m.shard(k)
	var cur map[string]V
	if p := sh.Load(); p != nil {
		cur = *p
	}
	old, held := cur[k]
	if !keep(old, held) {
		return false
	}
	next := make(map[string]V, len(cur)+1)
	for ck, cv := range cur {
		if ck != k {
			next[ck] = cv
		}
	}
	if !del {
		next[k] = v
	}
	sh.Store(&next)
	return true
}

func (m *cowMap[V]) keys() []string {
	var out []string
	for i := range m.shards {
		if p := m.shards[i].Load(); p != nil {
			for k := range *p {
				out = append(out, k)
			}
		}
	}
	return out
}

func (m *cowMap[V]) len() int {
	n := 0
	for i := range m.shards {
		if p := m.shards[i].Load(); p != nil {
			n += len(*p)
		}
	}
	return n
}

// Set is the zones an edge serves, by name, read without locks. Zones are
// found by the name they are served under (Zone.Name) and managed by the
// name they are published under (Zone.Key); the two differ only for
// partial setups, whose key → name link is kept in keys. Writers take wmu
// (a change touches both indexes); readers take no lock.
type Set struct {
	wmu   sync.Mutex
	zones cowMap[*Zone]
	keys  cowMap[string]
	n     atomic.Int64
	// prepare is called on every zone about to be installed (SetPrepare).
	prepare func(*Zone)
	// installed is called after every install and delete (SetInstalled).
	installed func(old, new *Zone)
}

// SetPrepare installs fn, called by Put on each zone before it becomes
// visible to readers, full snapshots and deltas alike: the node sets the
// zone's DNSSEC signer there, so that keys are opened and the apex sets
// signed once per zone version, never on the query path. Call it before
// the first Put.
func (s *Set) SetPrepare(fn func(*Zone)) { s.prepare = fn }

// SetInstalled installs fn, called after Put installed a zone (old: the
// version it replaced under the same key, nil when none) and after Delete
// removed one (new nil), with the set's write lock held, so in the order
// the versions were installed. fn must only hand the pair on (the outgoing
// transfer listener queues it, edge/xfrout): it delays every other write.
// Readers never see it. Call it before the first Put.
func (s *Set) SetInstalled(fn func(old, new *Zone)) { s.installed = fn }

// NewSet returns an empty set.
func NewSet() *Set { return &Set{} }

// Put installs z unless a zone of the same key with an equal or higher
// version is held; it reports whether z was installed. Versions only grow,
// so an older snapshot arriving late is never served after a newer one. A
// zone whose served name changed (a setup conversion) leaves its old name.
func (s *Set) Put(z *Zone) bool {
	if s.prepare != nil {
		if old := s.Get(z.key()); old == nil || old.Version < z.Version {
			s.prepare(z)
		}
	}
	if z.Presigned != nil {
		// A pre-signed zone serves its primary's signatures: ours would
		// contradict them (and its DNSKEY set is the primary's).
		z.Signer = nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	key := z.key()
	old := s.Get(key)
	if old != nil {
		if old.Version >= z.Version {
			return false
		}
		if old.Name != z.Name {
			s.forget(old)
		}
	}
	if z.Name != key {
		s.keys.update(key, z.Name, false, func(string, bool) bool { return true })
	}
	added := false
	ok := s.zones.update(z.Name, z, false, func(old *Zone, held bool) bool {
		added = !held
		return !held || old.Version < z.Version
	})
	if ok && added {
		s.n.Add(1)
	}
	if ok && s.installed != nil {
		s.installed(old, z)
	}
	return ok
}

// forget drops z from both indexes.
func (s *Set) forget(z *Zone) bool {
	if key := z.key(); z.Name != key {
		s.keys.update(key, "", true, func(_ string, held bool) bool { return held })
	}
	ok := s.zones.update(z.Name, nil, true, func(_ *Zone, held bool) bool { return held })
	if ok {
		s.n.Add(-1)
	}
	return ok
}

// Delete removes the zone published under key; it reports whether one was
// held.
func (s *Set) Delete(key string) bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	z := s.Get(key)
	if z == nil {
		return false
	}
	ok := s.forget(z)
	if ok && s.installed != nil {
		s.installed(z, nil)
	}
	return ok
}

// Version returns the version held for a zone key, and whether one is held.
func (s *Set) Version(key string) (uint64, bool) {
	z := s.Get(key)
	if z == nil {
		return 0, false
	}
	return z.Version, true
}

// Get returns the zone published under exactly that key.
func (s *Set) Get(key string) *Zone {
	name := key
	if served, ok := s.keys.get(key); ok {
		name = served
	}
	z, _ := s.zones.get(name)
	if z == nil || z.key() != key {
		return nil
	}
	return z
}

// Names returns the names of the zones held.
func (s *Set) Names() []string { return s.zones.keys() }

// Len returns the number of zones held.
func (s *Set) Len() int { return int(s.n.Load()) }

// Find returns the zone with the longest name that is qname or an ancestor
// of it. qname must be lower-case and fully qualified; the lookup does not
// allocate.
func (s *Set) Find(qname string) *Zone {
	if s.n.Load() == 0 {
		return nil
	}
	for i := 0; i < len(qname); {
		if z, ok := s.zones.get(qname[i:]); ok {
			return z
		}
		if len(qname)-i == 1 { // "." reached
			break
		}
		// Skip to the next label.
		for i < len(qname) && qname[i] != '.' {
			if qname[i] == '\\' {
				i++
			}
			i++
		}
		i++
		if i >= len(qname) {
			i = len(qname) - 1
		}
	}
	z, _ := s.zones.get(".")
	return z
}

// Accounts holds the account-wide settings, read lock-free at answer time
// so that flipping a setting costs one shard swap and recompiles no zone.
type Accounts struct {
	accounts cowMap[*snapshot.Account]
}

// NewAccounts returns an empty account map.
func NewAccounts() *Accounts { return &Accounts{} }

// Put installs acc unless an equal or newer version is held.
func (a *Accounts) Put(acc *snapshot.Account) bool {
	return a.accounts.update(acc.GetAccountId(), acc, false, func(old *snapshot.Account, held bool) bool {
		return !held || old.GetVersion() < acc.GetVersion()
	})
}

// Delete forgets an account's settings (they fall back to the defaults).
func (a *Accounts) Delete(id string) bool {
	return a.accounts.update(id, nil, true, func(_ *snapshot.Account, held bool) bool { return held })
}

// IDs returns the ids of the accounts held.
func (a *Accounts) IDs() []string { return a.accounts.keys() }

// EnforceDNSOnly reports whether the account has the break-glass switch on.
func (a *Accounts) EnforceDNSOnly(id string) bool {
	acc, ok := a.accounts.get(id)
	return ok && acc.GetEnforceDnsOnly()
}

// EachNode calls fn for every name of z (empty non-terminals included), in
// no particular order, until fn returns false. For readers that need the
// whole zone (an outgoing AXFR); the query path never walks a zone.
func (z *Zone) EachNode(fn func(*Node) bool) { z.nodes.each(fn) }

// ChangedNodes calls fn for every name whose node differs between two
// versions of a zone, with nil on the side where the name does not exist.
// A version made by ApplyDelta shares every node and index shard it did
// not touch with the one it came from, so a small change costs a walk of
// the shards it touched, not of the zone; two versions built separately
// (full snapshots) are compared name by name. A node reported may hold the
// same records in both versions (an ancestor whose child count changed).
func ChangedNodes(old, new *Zone, fn func(name string, o, n *Node)) {
	if old.nodes.shards() != new.nodes.shards() {
		new.EachNode(func(n *Node) bool {
			if o := old.nodes.get(n.Name); o != n {
				fn(n.Name, o, n)
			}
			return true
		})
		old.EachNode(func(o *Node) bool {
			if new.nodes.get(o.Name) == nil {
				fn(o.Name, o, nil)
			}
			return true
		})
		return
	}
	for i := range new.nodes.shards() {
		if old.nodes.groups[i>>groupBits] == new.nodes.groups[i>>groupBits] {
			continue // a group no delta between them wrote to
		}
		ot, nt := *old.nodes.at(uint32(i)), *new.nodes.at(uint32(i))
		if ot == nt {
			continue
		}
		for _, n := range nt.slots {
			if n == nil {
				continue
			}
			if o := old.nodes.get(n.Name); o != n {
				fn(n.Name, o, n)
			}
		}
		for _, o := range ot.slots {
			if o != nil && new.nodes.get(o.Name) == nil {
				fn(o.Name, o, nil)
			}
		}
	}
}
