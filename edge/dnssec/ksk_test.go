package dnssec_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/internal/dnssectest"
)

// verifyOnly checks that sigs is one signature by key over set.
func verifyOnly(t *testing.T, sigs []*dns.RRSIG, key *dns.DNSKEY, set []dns.RR) {
	t.Helper()
	if len(sigs) != 1 {
		t.Fatalf("%d signatures, want one: %v", len(sigs), sigs)
	}
	verify(t, sigs[0], key, set)
}

// During a KSK rollover by double signature every KSK of the header signs
// the DNSKEY, CDS and CDNSKEY sets, and CDS/CDNSKEY advertise the current
// KSK: the one activated last among those not retired (the control plane's
// rule). A retired KSK still signs until it is removed from the header.
func TestKSKRolloverSignsKeySetsWithEveryKSK(t *testing.T) {
	ring := dnssectest.Ring(t)
	tests := []struct {
		name string
		// oldRetired: the new DS was seen at the parent.
		oldRetired bool
		// sameSecond: the new KSK was activated in the same second as
		// the old one (the later one in the header wins).
		sameSecond bool
	}{
		{"new KSK published, waiting for the DS", false, false},
		{"new DS at the parent, old KSK retired but still signing", true, false},
		{"both activated in the same second", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, keys := dnssectest.Dnssec(t, ring, "z1", zoneName)
			oldKSK := keys[0]
			d.Keys[0].ActivateUnix = now.Add(-48 * time.Hour).Unix()
			next, nextKey := dnssectest.Key(t, ring, "z1", zoneName, 257)
			next.ActivateUnix = now.Add(-time.Hour).Unix()
			if tc.sameSecond {
				next.ActivateUnix = d.Keys[0].ActivateUnix
			}
			if tc.oldRetired {
				d.Keys[0].RetireUnix = now.Add(-time.Minute).Unix()
			}
			d.Keys = append(d.Keys, next)
			z, err := dnssec.NewOpener(ring).Prepare("z1", zoneName, d, nil, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, qt := range []uint16{dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY} {
				set, sigs, _ := z.Apex(qt, now)
				if len(sigs) != 2 {
					t.Fatalf("%s: %d signatures, want one per KSK", dns.TypeToString[qt], len(sigs))
				}
				verify(t, sigs[0], oldKSK, set)
				verify(t, sigs[1], nextKey, set)
			}
			dnskey, _, _ := z.Apex(dns.TypeDNSKEY, now)
			if len(dnskey) != 3 {
				t.Errorf("DNSKEY set %v, want both KSKs and the ZSK", dnskey)
			}
			cds, _, _ := z.Apex(dns.TypeCDS, now)
			ds := nextKey.ToDS(dns.SHA256)
			if len(cds) != 1 || cds[0].(*dns.CDS).KeyTag != ds.KeyTag || cds[0].(*dns.CDS).Digest != ds.Digest {
				t.Errorf("CDS %v, want only the new KSK's %v", cds, ds)
			}
			cdnskey, _, _ := z.Apex(dns.TypeCDNSKEY, now)
			if len(cdnskey) != 1 || cdnskey[0].(*dns.CDNSKEY).PublicKey != nextKey.PublicKey {
				t.Errorf("CDNSKEY %v, want only the new KSK", cdnskey)
			}
			// Answers are still signed by the ZSK, not a KSK.
			if z.ZSKTag(now) != keys[1].KeyTag() {
				t.Errorf("signing key %d, want the ZSK %d", z.ZSKTag(now), keys[1].KeyTag())
			}
		})
	}
}

// SignStored reuses a set's signature while the ZSK and Reuse allow, and
// signs again after a ZSK switch or Reuse; each caller gets its own copy.
func TestSignStoredReusesSignaturesOfTheVersionsOwnSets(t *testing.T) {
	ring := dnssectest.Ring(t)
	d, keys := dnssectest.Dnssec(t, ring, "z1", zoneName)
	next, nextKey := dnssectest.Key(t, ring, "z1", zoneName, 256)
	switchAt := now.Add(time.Hour)
	d.Keys[1].RetireUnix = switchAt.Unix()
	next.ActivateUnix = switchAt.Unix()
	d.Keys = append(d.Keys, next)
	z, err := dnssec.NewOpener(ring).Prepare("z1", zoneName, d, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	set := []dns.RR{rr(t, "www.example.com. 300 IN A 192.0.2.1"), rr(t, "www.example.com. 300 IN A 192.0.2.2")}
	other := []dns.RR{rr(t, "mail.example.com. 300 IN A 192.0.2.25")}
	first, err := z.SignStored(set, now)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, first, keys[1], set)
	tests := []struct {
		name   string
		set    []dns.RR
		at     time.Time
		reused bool
		key    *dns.DNSKEY
	}{
		{"same set, same ZSK: reused", set, now.Add(time.Minute), true, keys[1]},
		{"another set: its own signature", other, now.Add(time.Minute), false, keys[1]},
		{"after the ZSK switch: signed by the new ZSK", set, switchAt.Add(time.Minute), false, nextKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := z.SignStored(tc.set, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if reused := sig.Signature == first.Signature; reused != tc.reused {
				t.Fatalf("reused %v, want %v", reused, tc.reused)
			}
			if sig == first {
				t.Fatal("the caller got the kept RRSIG itself, not a copy")
			}
			if err := sig.Verify(tc.key, tc.set); err != nil {
				t.Fatalf("RRSIG %v: %v", sig, err)
			}
		})
	}
	// Older than Reuse (with the ZSK in force again in a fresh version):
	// signed again.
	z2, err := dnssec.NewOpener(ring).Prepare("z1", zoneName, d, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := z2.SignStored(set, now)
	b, _ := z2.SignStored(set, now.Add(dnssec.Reuse))
	if a.Signature == b.Signature {
		t.Fatal("a signature reused past Reuse")
	}
}
