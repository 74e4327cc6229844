// Package dnssectest makes sealed DNSSEC keys for tests, the way the
// control plane makes them (controlplane/dnssec.NewKey), which the edge
// module cannot import.
package dnssectest

import (
	"crypto/ecdsa"
	"crypto/x509"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Ring returns a key ring with a new KEK.
func Ring(tb testing.TB) *keyseal.Ring {
	tb.Helper()
	kek, err := keyseal.Generate()
	if err != nil {
		tb.Fatal(err)
	}
	r, err := keyseal.New(kek)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// Key returns a new key of zone sealed under ring, and its DNSKEY.
func Key(tb testing.TB, ring *keyseal.Ring, zoneID, zoneName string, flags uint32) (*snapshot.DnssecKey, *dns.DNSKEY) {
	tb.Helper()
	k := &dns.DNSKEY{
		Hdr:   dns.RR_Header{Name: zoneName, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: uint16(flags), Protocol: 3, Algorithm: dns.ECDSAP256SHA256,
	}
	priv, err := k.Generate(256)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv.(*ecdsa.PrivateKey))
	if err != nil {
		tb.Fatal(err)
	}
	sealed, err := ring.Seal(der, keyseal.DNSSECKeyContext(zoneID, k.KeyTag(), flags))
	if err != nil {
		tb.Fatal(err)
	}
	return &snapshot.DnssecKey{
		Flags: flags, Algorithm: uint32(dns.ECDSAP256SHA256), PublicKey: k.PublicKey,
		KeyTag: uint32(k.KeyTag()), SealedPrivateKey: sealed,
	}, k
}

// Dnssec returns a zone's DNSSEC header with a KSK and a ZSK, and the two
// DNSKEY records (KSK first).
func Dnssec(tb testing.TB, ring *keyseal.Ring, zoneID, zoneName string) (*snapshot.Dnssec, []*dns.DNSKEY) {
	tb.Helper()
	ksk, kskRR := Key(tb, ring, zoneID, zoneName, 257)
	zsk, zskRR := Key(tb, ring, zoneID, zoneName, 256)
	return &snapshot.Dnssec{Keys: []*snapshot.DnssecKey{ksk, zsk}}, []*dns.DNSKEY{kskRR, zskRR}
}
