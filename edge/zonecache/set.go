package zonecache

import (
	"sync"
	"sync/atomic"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Set is the zones an edge serves. Readers load an atomic pointer to an
// immutable map; writers copy the map under a mutex, so a query never
// waits for an update and never sees half of one.
type Set struct {
	mu    sync.Mutex
	zones atomic.Pointer[map[string]*Zone]
}

// NewSet returns an empty set.
func NewSet() *Set {
	s := &Set{}
	m := map[string]*Zone{}
	s.zones.Store(&m)
	return s
}

// Put installs z unless a zone of the same name with an equal or higher
// version is held; it reports whether z was installed. Versions only grow,
// so an older snapshot arriving late is never served after a newer one.
func (s *Set) Put(z *Zone) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := *s.zones.Load()
	if old, ok := cur[z.Name]; ok && old.Version >= z.Version {
		return false
	}
	next := make(map[string]*Zone, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[z.Name] = z
	s.zones.Store(&next)
	return true
}

// Delete removes the zone of that name; it reports whether one was held.
func (s *Set) Delete(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := *s.zones.Load()
	if _, ok := cur[name]; !ok {
		return false
	}
	next := make(map[string]*Zone, len(cur))
	for k, v := range cur {
		if k != name {
			next[k] = v
		}
	}
	s.zones.Store(&next)
	return true
}

// Version returns the version held for a zone name, and whether one is held.
func (s *Set) Version(name string) (uint64, bool) {
	z, ok := (*s.zones.Load())[name]
	if !ok {
		return 0, false
	}
	return z.Version, true
}

// Get returns the zone of exactly that name.
func (s *Set) Get(name string) *Zone { return (*s.zones.Load())[name] }

// Names returns the names of the zones held.
func (s *Set) Names() []string {
	m := *s.zones.Load()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Len returns the number of zones held.
func (s *Set) Len() int { return len(*s.zones.Load()) }

// Find returns the zone with the longest name that is qname or an ancestor
// of it. qname must be lower-case and fully qualified; the lookup does not
// allocate.
func (s *Set) Find(qname string) *Zone {
	m := *s.zones.Load()
	if len(m) == 0 {
		return nil
	}
	for i := 0; i < len(qname); {
		if z, ok := m[qname[i:]]; ok {
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
	return m["."]
}

// Accounts holds the account-wide settings, read lock-free at answer time
// so that flipping a setting costs one map swap and recompiles no zone.
type Accounts struct {
	mu       sync.Mutex
	accounts atomic.Pointer[map[string]*snapshot.Account]
}

// NewAccounts returns an empty account map.
func NewAccounts() *Accounts {
	a := &Accounts{}
	m := map[string]*snapshot.Account{}
	a.accounts.Store(&m)
	return a
}

// Put installs acc unless an equal or newer version is held.
func (a *Accounts) Put(acc *snapshot.Account) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := *a.accounts.Load()
	if old, ok := cur[acc.GetAccountId()]; ok && old.GetVersion() >= acc.GetVersion() {
		return false
	}
	next := make(map[string]*snapshot.Account, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[acc.GetAccountId()] = acc
	a.accounts.Store(&next)
	return true
}

// Delete forgets an account's settings (they fall back to the defaults).
func (a *Accounts) Delete(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := *a.accounts.Load()
	if _, ok := cur[id]; !ok {
		return false
	}
	next := make(map[string]*snapshot.Account, len(cur))
	for k, v := range cur {
		if k != id {
			next[k] = v
		}
	}
	a.accounts.Store(&next)
	return true
}

// IDs returns the ids of the accounts held.
func (a *Accounts) IDs() []string {
	m := *a.accounts.Load()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// EnforceDNSOnly reports whether the account has the break-glass switch on.
func (a *Accounts) EnforceDNSOnly(id string) bool {
	acc, ok := (*a.accounts.Load())[id]
	return ok && acc.GetEnforceDnsOnly()
}
