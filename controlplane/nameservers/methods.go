package nameservers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// AssignRandom returns a random free pair (the documents' "Standard
// nameservers randomized": "Cloudflare assigns random pairs of nameserver
// names every time you add a new domain"), or a random pair when every
// pair is taken.
func (p *Pool) AssignRandom(r Request) []string {
	free := make([][2]string, 0, len(p.pairs))
	for _, pair := range p.pairs {
		if !pairTaken(pair, r.Taken) {
			free = append(free, pair)
		}
	}
	if len(free) == 0 {
		free = p.pairs
	}
	pair := free[rand.IntN(len(free))]
	return pair[:]
}

func pairTaken(pair [2]string, taken [][]string) bool {
	for _, t := range taken {
		if samePair(pair, t) {
			return true
		}
	}
	return false
}

// PairsWithin returns every pool pair whose two names are both in names:
// the pairs a delegation that exists already would hand a new zone
// (anti-hijack: "If you preset your nameservers and then add the domain,
// your domain will be assigned a new pair of nameservers").
func (p *Pool) PairsWithin(names []string) [][]string {
	set := dnsname.NormalizedSet(names)
	var out [][]string
	for _, pair := range p.pairs {
		if slices.Contains(set, pair[0]) && slices.Contains(set, pair[1]) {
			out = append(out, []string{pair[0], pair[1]})
		}
	}
	return out
}

// DefaultAdvancedDomains are the three domains of advanced nameservers,
// the analogue of foundationdns.com, .net and .org.
func DefaultAdvancedDomains() []string {
	return []string{"fdns-a.zonegrid.test.", "fdns-b.zonegrid.test.", "fdns-c.zonegrid.test."}
}

// advancedLabels name the advanced nameserver sets: set i is
// advancedLabels[i] under each of the three domains.
var advancedLabels = []string{"ada", "bob", "cal", "dee", "eli", "fay", "gus", "hal", "ivy", "jay", "kai", "lou"}

// Advanced assigns advanced (Foundation DNS style) nameservers: one label
// under each of three domains, as the documents' "<name>.foundationdns.com,
// .net and .org". Like the standard method it keeps an account's set
// across its zones (derived from the account id) unless a related zone
// (same name elsewhere, ancestor or descendant: "directly descending zones
// do not have the same nameserver set") uses it.
type Advanced struct {
	domains []string
}

// NewAdvanced builds the advanced assigner from exactly three domains.
func NewAdvanced(domains []string) (*Advanced, error) {
	if len(domains) != 3 {
		return nil, fmt.Errorf("advanced nameservers need three domains, got %d", len(domains))
	}
	var norm []string
	for _, d := range domains {
		n, err := dnsname.Normalize(d)
		if err != nil {
			return nil, fmt.Errorf("advanced nameserver domain %q: %w", d, err)
		}
		if slices.Contains(norm, n) {
			return nil, fmt.Errorf("advanced nameserver domain %q given twice", d)
		}
		norm = append(norm, n)
	}
	return &Advanced{domains: norm}, nil
}

// Domains returns the three domains, normalized.
func (a *Advanced) Domains() []string { return slices.Clone(a.domains) }

func (a *Advanced) set(i int) []string {
	out := make([]string, len(a.domains))
	for j, d := range a.domains {
		out[j] = advancedLabels[i] + "." + d
	}
	return out
}

// Assign returns the set for a new zone of r.AccountID.
func (a *Advanced) Assign(r Request) []string {
	taken := func(set []string) bool {
		for _, t := range r.Taken {
			if len(t) == len(set) && slices.Equal(dnsname.NormalizedSet(t), dnsname.NormalizedSet(set)) {
				return true
			}
		}
		return false
	}
	start := int(hash(r.AccountID) % uint64(len(advancedLabels)))
	for i := range advancedLabels {
		if s := a.set((start + i) % len(advancedLabels)); !taken(s) {
			return s
		}
	}
	return a.set(start)
}

// Owns tells whether ns are advanced nameservers (any name under one of
// the three domains).
func (a *Advanced) Owns(ns []string) bool {
	for _, n := range ns {
		for _, d := range a.domains {
			if dnsname.IsSubdomain(strings.ToLower(dns.Fqdn(n)), d) && n != d {
				return true
			}
		}
	}
	return false
}

// Served returns the nameservers a zone's apex NS set starts with: its
// zone custom nameservers when it has them, else the account custom set it
// was moved onto, else the assigned ones.
func Served(z *dnsv1.Zone) []string {
	if v := z.GetVanityNameServers(); len(v) > 0 {
		return v
	}
	if a := z.GetAccountNameServers(); len(a) > 0 {
		return a
	}
	return z.GetNameServers()
}

// Addresses hands out the addresses custom nameserver names answer on,
// from the platform's nameserver address pools; a name always gets the
// same addresses.
type Addresses struct {
	v4, v6 []netip.Addr
}

// DefaultAddresses are documentation addresses for development; production
// configures the edges' anycast addresses.
func DefaultAddresses() (v4, v6 []string) {
	return []string{"192.0.2.53", "198.51.100.53"}, []string{"2001:db8::53", "2001:db8:1::53"}
}

// NewAddresses parses the pools; each needs at least one address of its
// family.
func NewAddresses(v4, v6 []string) (*Addresses, error) {
	a := &Addresses{}
	for _, s := range v4 {
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is4() {
			return nil, fmt.Errorf("nameserver IPv4 address %q: not an IPv4 address", s)
		}
		a.v4 = append(a.v4, ip)
	}
	for _, s := range v6 {
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is6() || ip.Is4In6() {
			return nil, fmt.Errorf("nameserver IPv6 address %q: not an IPv6 address", s)
		}
		a.v6 = append(a.v6, ip)
	}
	if len(a.v4) == 0 || len(a.v6) == 0 {
		return nil, errors.New("nameserver address pools need an IPv4 and an IPv6 address")
	}
	return a, nil
}

// For returns the addresses of name.
func (a *Addresses) For(name string) *dnsv1.NameserverAddresses {
	h := hash(name)
	return &dnsv1.NameserverAddresses{
		Name: name,
		Ipv4: a.v4[h%uint64(len(a.v4))].String(),
		Ipv6: a.v6[h%uint64(len(a.v6))].String(),
	}
}

// Hosted returns the account custom nameservers that zone z answers the
// addresses of: the names below z that no deeper zone of zones (the same
// account's) contains, in the order of acns.
func Hosted(z *dnsv1.Zone, zones []*dnsv1.Zone, acns []*dnsv1.CustomNameserver) []*dnsv1.NameserverAddresses {
	var out []*dnsv1.NameserverAddresses
	for _, ns := range acns {
		n := ns.GetNsName()
		if n == z.GetName() || !dnsname.IsSubdomain(n, z.GetName()) {
			continue
		}
		deeper := false
		for _, o := range zones {
			if o.GetId() != z.GetId() && o.GetName() != z.GetName() && dnsname.IsSubdomain(o.GetName(), z.GetName()) && dnsname.IsSubdomain(n, o.GetName()) {
				deeper = true
				break
			}
		}
		if !deeper {
			out = append(out, &dnsv1.NameserverAddresses{Name: n, Ipv4: ns.GetIpv4(), Ipv6: ns.GetIpv6()})
		}
	}
	return out
}

// CustomSet returns the names of set n (1..5) of acns, in creation order.
func CustomSet(acns []*dnsv1.CustomNameserver, n uint32) []string {
	var out []string
	for _, ns := range acns {
		if ns.GetNsSet() == n {
			out = append(out, ns.GetNsName())
		}
	}
	return out
}

// AssignCustom returns the account custom nameserver set for a new zone:
// set first (1..5) if it is usable (two names or more) and no related zone
// uses it, else the other sets in ascending order ("Set 1 will be
// attempted first and, in case of any conflicts, Cloudflare will cycle
// through the other nameserver sets, in ascending order"). ok is false
// when no set is usable.
func AssignCustom(acns []*dnsv1.CustomNameserver, first uint32, r Request) (ns []string, ok bool) {
	if first < 1 || first > 5 {
		first = 1
	}
	order := []uint32{first}
	for n := uint32(1); n <= 5; n++ {
		if n != first {
			order = append(order, n)
		}
	}
	for _, n := range order {
		set := CustomSet(acns, n)
		if len(set) < 2 {
			continue
		}
		taken := false
		for _, t := range r.Taken {
			if slices.Equal(dnsname.NormalizedSet(t), dnsname.NormalizedSet(set)) {
				taken = true
				break
			}
		}
		if !taken {
			return set, true
		}
	}
	return nil, false
}
