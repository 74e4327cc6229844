// Package xfrauth decides, at an edge, who may send a zone a NOTIFY and who
// may transfer it out: the zone's snapshot header carries the allowed
// source ranges and the linked TSIG key still sealed (snapshot.Transfer);
// this package opens the key with the edge's key-encryption ring and
// answers "allowed?" for a source address. The DNS server (NOTIFY) and the
// transfer listener (AXFR/IXFR) both ask it, so the rule lives in one place.
package xfrauth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Policy is a zone's transfer policy, prepared once per zone version.
// A nil *Policy allows nothing.
type Policy struct {
	notifyFrom []netip.Prefix
	outgoing   bool
	transferTo []netip.Prefix
	tsig       *Key
}

// Key is an opened TSIG key, in the form miekg/dns wants: the secret
// base64-encoded, to go into a TsigSecret map under Name.
type Key struct {
	Name      string
	Algorithm string
	Secret    string
}

// ErrSealed is wrapped when the zone links a TSIG key the edge cannot
// open (no ring, or another KEK): the zone's NOTIFY and transfers are then
// refused rather than accepted unsigned.
var ErrSealed = errors.New("tsig key does not open")

// Prepare turns a header's Transfer into a Policy. ring opens the TSIG
// secret; it may be nil when no key is linked. A nil t gives a nil Policy.
// A bad prefix or a key that does not open is an error: the caller serves
// the zone anyway but with a nil Policy (nothing allowed), since accepting
// an unsigned transfer of a zone whose owner asked for TSIG would leak it.
func Prepare(t *snapshot.Transfer, ring *keyseal.Ring) (*Policy, error) {
	if t == nil {
		return nil, nil
	}
	p := &Policy{outgoing: t.GetOutgoing()}
	var err error
	if p.notifyFrom, err = prefixes(t.GetNotifyFrom()); err != nil {
		return nil, fmt.Errorf("transfer notify_from: %w", err)
	}
	if p.transferTo, err = prefixes(t.GetTransferTo()); err != nil {
		return nil, fmt.Errorf("transfer transfer_to: %w", err)
	}
	if k := t.GetTsig(); k != nil {
		if ring == nil {
			return nil, fmt.Errorf("tsig %s: %w: no --dnssec-kek-file", k.GetId(), ErrSealed)
		}
		raw, err := ring.Open(k.GetSealedSecret(), keyseal.TSIGContext(k.GetAccountId(), k.GetId()))
		if err != nil {
			return nil, fmt.Errorf("tsig %s: %w: %w", k.GetId(), ErrSealed, err)
		}
		p.tsig = &Key{
			Name:      dns.CanonicalName(k.GetName()),
			Algorithm: dns.CanonicalName(k.GetAlgorithm()),
			Secret:    base64.StdEncoding.EncodeToString(raw),
		}
	}
	return p, nil
}

func prefixes(in []string) ([]netip.Prefix, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// SourceOf is the address a policy is asked about for a packet's or a
// connection's peer (IPv4-mapped IPv6 read as IPv4); the zero Addr, which
// no policy allows, for anything but UDP and TCP.
func SourceOf(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return netip.Addr{}
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// NotifyAllowed says whether a NOTIFY for the zone from src is accepted
// (the TSIG, if the message is signed, is checked separately with TSIG).
func (p *Policy) NotifyAllowed(src netip.Addr) bool {
	return p != nil && contains(p.notifyFrom, src)
}

// Outgoing says whether the zone transfers out at all.
func (p *Policy) Outgoing() bool { return p != nil && p.outgoing }

// TransferAllowed says whether src may transfer the zone out (the TSIG
// requirement is TSIG's job).
func (p *Policy) TransferAllowed(src netip.Addr) bool {
	return p != nil && p.outgoing && contains(p.transferTo, src)
}

// TSIG is the zone's linked key, nil when none is linked.
func (p *Policy) TSIG() *Key {
	if p == nil {
		return nil
	}
	return p.tsig
}
