package node

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/internal/dnssectest"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
)

func TestDNSSECPreparerSignsOnlyWhatItCanOpen(t *testing.T) {
	ring := dnssectest.Ring(t)
	h := zonetest.Header("signed.test.", 1)
	h.Dnssec, _ = dnssectest.Dnssec(t, ring, h.GetZoneId(), "signed.test.")
	for _, tc := range []struct {
		name   string
		opener *dnssec.Opener
		header bool
		signed bool
	}{
		{"the edge's KEK opens the keys", dnssec.NewOpener(ring), true, true},
		{"another KEK: served unsigned", dnssec.NewOpener(dnssectest.Ring(t)), true, false},
		{"no KEK given: served unsigned", nil, true, false},
		{"zone without DNSSEC", dnssec.NewOpener(ring), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := zonetest.Header("signed.test.", 1)
			if tc.header {
				hdr = h
			}
			z, err := zonecache.Build(zonetest.Zone(t, hdr, "www IN A 192.0.2.1\n"))
			if err != nil {
				t.Fatal(err)
			}
			dnssecPreparer(tc.opener, zap.NewNop(), nil, time.Now)(z)
			if (z.Signer != nil) != tc.signed {
				t.Errorf("signer %v, want signed = %v", z.Signer, tc.signed)
			}
		})
	}
}
