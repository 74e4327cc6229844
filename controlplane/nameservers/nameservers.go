// Package nameservers assigns each new zone a pair of nameservers from a
// configured pool, following the source documents' default method: keep
// the same pair for every zone of an account, but pick another pair when
// the account's pair would collide with another account's zone of the same
// name or with a zone above or below the new one (a resolver could
// otherwise reach the wrong zone through a shared nameserver name).
package nameservers

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
)

// DefaultPool is the pool used when none is configured.
func DefaultPool() []string {
	return []string{"ns1.zonegrid.test.", "ns2.zonegrid.test.", "ns3.zonegrid.test.", "ns4.zonegrid.test."}
}

// Pool hands out nameserver pairs.
type Pool struct {
	names []string
	pairs [][2]string
}

// NewPool builds a pool from at least two distinct nameserver names.
// Pairs are every two-name combination, in pool order, so the set of pairs
// (and therefore every assignment) is deterministic for a given pool.
func NewPool(names []string) (*Pool, error) {
	var norm []string
	for _, n := range names {
		nn, err := dnsname.Normalize(n)
		if err != nil {
			return nil, fmt.Errorf("nameserver %q: %w", n, err)
		}
		if !slices.Contains(norm, nn) {
			norm = append(norm, nn)
		}
	}
	if len(norm) < 2 {
		return nil, errors.New("nameserver pool needs at least two distinct names")
	}
	p := &Pool{names: norm}
	for i := range norm {
		for j := i + 1; j < len(norm); j++ {
			p.pairs = append(p.pairs, [2]string{norm[i], norm[j]})
		}
	}
	return p, nil
}

// Names returns the pool's names, normalized.
func (p *Pool) Names() []string { return slices.Clone(p.names) }

// Request describes the zone being created and what it must not collide
// with.
type Request struct {
	AccountID string
	// Preferred is the account's pair (nil if it has none yet).
	Preferred []string
	// Taken are the pairs used by other accounts' zones of the same name and
	// by zones at ancestor or descendant names.
	Taken [][]string
}

// Assign returns the pair for a new zone: the account's preferred pair if
// it is in the pool and not taken, else the first free pair starting at a
// position derived from the account id (so accounts spread over the pool
// but one account always gets the same answer). When every pair is taken
// (a tiny pool) it falls back to the preferred or starting pair rather than
// refusing the zone: serving correctness does not depend on distinct pairs,
// only delegation hygiene does.
func (p *Pool) Assign(r Request) []string {
	taken := func(pair [2]string) bool {
		for _, t := range r.Taken {
			if samePair(pair, t) {
				return true
			}
		}
		return false
	}
	if pref, ok := p.inPool(r.Preferred); ok && !taken(pref) {
		return pref[:]
	}
	start := int(hash(r.AccountID) % uint64(len(p.pairs)))
	for i := range p.pairs {
		pair := p.pairs[(start+i)%len(p.pairs)]
		if !taken(pair) {
			return pair[:]
		}
	}
	if pref, ok := p.inPool(r.Preferred); ok {
		return pref[:]
	}
	pair := p.pairs[start]
	return pair[:]
}

func (p *Pool) inPool(ns []string) ([2]string, bool) {
	if len(ns) != 2 {
		return [2]string{}, false
	}
	for _, pair := range p.pairs {
		if samePair(pair, ns) {
			return pair, true
		}
	}
	return [2]string{}, false
}

func samePair(a [2]string, b []string) bool {
	if len(b) != 2 {
		return false
	}
	return a[0] == b[0] && a[1] == b[1] || a[0] == b[1] && a[1] == b[0]
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
