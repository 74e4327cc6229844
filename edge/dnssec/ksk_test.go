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
