// Package dnssec is the control plane's side of DNSSEC: it generates a
// zone's keys (ECDSA P-256 / SHA-256, algorithm 13; a KSK with flags 257 and
// a ZSK with flags 256), seals their private parts for etcd and NATS, runs
// the status machine of the documents' "DNSSEC states", schedules ZSK
// rollovers by pre-publication, and checks the DS at the parent. The edges
// sign (edge/dnssec); services/dnssec is the API.
package dnssec

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Key flags and the one algorithm.
const (
	FlagsKSK  = 257
	FlagsZSK  = 256
	Algorithm = dns.ECDSAP256SHA256
	// DNSKEYTTL is the TTL of the DNSKEY, CDS and CDNSKEY sets (and the
	// DS the API suggests).
	DNSKEYTTL = 3600
)

// SealContext binds a sealed private key to its zone and key, so that a
// blob copied onto another key does not open (pkg/keyseal).
func SealContext(zoneID string, keyTag uint16, flags uint32) []byte {
	return keyseal.DNSSECKeyContext(zoneID, keyTag, flags)
}

// NewKey generates a key of the given flags for the zone, its private part
// sealed under ring.
func NewKey(ring *keyseal.Ring, zoneID, zoneName string, flags uint32, now time.Time) (*dnsv1.DnssecKeyState, error) {
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.Fqdn(zoneName), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: DNSKEYTTL},
		Flags:     uint16(flags),
		Protocol:  3,
		Algorithm: Algorithm,
	}
	priv, err := k.Generate(256)
	if err != nil {
		return nil, fmt.Errorf("generate dnssec key for zone %s: %w", zoneID, err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("generate dnssec key for zone %s: unexpected key type %T", zoneID, priv)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		return nil, fmt.Errorf("encode dnssec key for zone %s: %w", zoneID, err)
	}
	tag := k.KeyTag()
	sealed, err := ring.Seal(der, SealContext(zoneID, tag, flags))
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("seal dnssec key for zone %s: %w", zoneID, err)
	}
	ts := timestamppb.New(now)
	return &dnsv1.DnssecKeyState{
		Flags: flags, Algorithm: uint32(Algorithm), PublicKey: k.PublicKey, SealedPrivateKey: sealed,
		KeyTag: uint32(tag), CreatedOn: ts, ActivateOn: ts,
	}, nil
}

// OpenKey returns the private key of k.
func OpenKey(ring *keyseal.Ring, zoneID string, k *dnsv1.DnssecKeyState) (*ecdsa.PrivateKey, error) {
	der, err := ring.Open(k.GetSealedPrivateKey(), SealContext(zoneID, uint16(k.GetKeyTag()), k.GetFlags()))
	if err != nil {
		return nil, fmt.Errorf("open dnssec key %d of zone %s: %w", k.GetKeyTag(), zoneID, err)
	}
	defer clear(der)
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("decode dnssec key %d of zone %s: %w", k.GetKeyTag(), zoneID, err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("dnssec key %d of zone %s: unexpected key type %T", k.GetKeyTag(), zoneID, priv)
	}
	return ec, nil
}

// DNSKEY returns k as a DNSKEY record of zone.
func DNSKEY(zoneName string, k *dnsv1.DnssecKeyState) *dns.DNSKEY {
	return &dns.DNSKEY{
		Hdr:   dns.RR_Header{Name: dns.Fqdn(strings.ToLower(zoneName)), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: DNSKEYTTL},
		Flags: uint16(k.GetFlags()), Protocol: 3, Algorithm: uint8(k.GetAlgorithm()), PublicKey: k.GetPublicKey(),
	}
}

// KSK returns the zone's current KSK, nil if none: the one whose DS the
// parent should hold. Outside a KSK rollover it is the only KSK; during one,
// the new KSK: among the KSKs not retired, the one activated last (the
// later in the list on a tie, as RollKSK appends). The edges choose the KSK
// that CDS and CDNSKEY advertise by the same rule (edge/dnssec).
func KSK(st *dnsv1.DnssecState) *dnsv1.DnssecKeyState {
	var cur *dnsv1.DnssecKeyState
	for _, k := range KSKs(st) {
		if k.GetRetireOn() != nil {
			continue
		}
		if cur == nil || !k.GetActivateOn().AsTime().Before(cur.GetActivateOn().AsTime()) {
			cur = k
		}
	}
	if cur == nil {
		// Every KSK retired (cannot happen through RetireOldKSKs, which
		// keeps the current one): the last one is the best guess.
		if ks := KSKs(st); len(ks) > 0 {
			cur = ks[len(ks)-1]
		}
	}
	return cur
}

// KSKs returns every KSK of the zone, in the stored order.
func KSKs(st *dnsv1.DnssecState) []*dnsv1.DnssecKeyState {
	var out []*dnsv1.DnssecKeyState
	for _, k := range st.GetKeys() {
		if k.GetFlags() == FlagsKSK {
			out = append(out, k)
		}
	}
	return out
}

// DS returns the SHA-256 DS of the zone's current KSK, nil without one.
func DS(zoneName string, st *dnsv1.DnssecState) *dns.DS {
	k := KSK(st)
	if k == nil {
		return nil
	}
	return KeyDS(zoneName, k)
}

// KeyDS returns the SHA-256 DS of key k.
func KeyDS(zoneName string, k *dnsv1.DnssecKeyState) *dns.DS {
	return DNSKEY(zoneName, k).ToDS(dns.SHA256)
}

// KeyState names what a key does at now: "active" (signs), "published"
// (before its activation), "retired" (after it).
func KeyState(k *dnsv1.DnssecKeyState, now time.Time) string {
	switch {
	case k.GetActivateOn() != nil && now.Before(k.GetActivateOn().AsTime()):
		return "published"
	case k.GetRetireOn() != nil && !now.Before(k.GetRetireOn().AsTime()):
		return "retired"
	}
	return "active"
}

// View is the API's view of a zone's DNSSEC (public parts only).
func View(zoneName string, st *dnsv1.DnssecState, now time.Time) *dnsv1.Dnssec {
	if st == nil {
		return &dnsv1.Dnssec{Status: dnsv1.DnssecStatus_DNSSEC_STATUS_DELETED}
	}
	v := &dnsv1.Dnssec{
		Status: st.GetStatus(), DnssecMultiSigner: st.GetMultiSigner(), DnssecUseNsec3: st.GetUseNsec3(),
		ModifiedOn: st.GetModifiedOn(),
	}
	ksk := KSK(st)
	if ds := DS(zoneName, st); ds != nil {
		v.Algorithm, v.KeyType, v.Flags, v.KeyTag = uint32(Algorithm), "ECDSAP256SHA256", FlagsKSK, uint32(ds.KeyTag)
		v.DigestType, v.DigestAlgorithm, v.Digest = uint32(ds.DigestType), "SHA256", strings.ToUpper(ds.Digest)
		v.Ds, v.PublicKey = dsText(ds), ksk.GetPublicKey()
		v.DsRecords = append(v.DsRecords, v.Ds)
	}
	for _, k := range st.GetKeys() {
		dk := &dnsv1.DnssecKey{
			KeyTag: k.GetKeyTag(), Flags: k.GetFlags(), Algorithm: k.GetAlgorithm(), PublicKey: k.GetPublicKey(),
			State: KeyState(k, now), Dnskey: DNSKEY(zoneName, k).String(),
		}
		if k.GetFlags() == FlagsKSK {
			dk.Ds = dsText(KeyDS(zoneName, k))
			if k != ksk {
				v.DsRecords = append(v.DsRecords, dk.Ds)
				if v.KskRollover == nil && ksk != nil {
					r := &dnsv1.KskRollover{
						NewKeyTag: ksk.GetKeyTag(), OldKeyTag: k.GetKeyTag(), StartedOn: ksk.GetCreatedOn(),
						WaitingFor: "ds", RemoveOn: k.GetRemoveOn(),
					}
					if k.GetRemoveOn() != nil {
						r.WaitingFor = "removal"
					}
					v.KskRollover = r
				}
			}
		}
		v.Keys = append(v.Keys, dk)
	}
	return v
}

// dsText is ds in presentation format with the digest upper case, as
// registrars show it.
func dsText(ds *dns.DS) string {
	if ds == nil {
		return ""
	}
	c := *ds
	c.Digest = strings.ToUpper(c.Digest)
	return c.String()
}
