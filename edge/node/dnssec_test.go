package node

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

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

// A pre-signed zone (its records hold RRSIGs) gets no signer of ours, even
// with DNSSEC keys in its header; what is wrong with its records is logged
// once, when the version is prepared.
func TestDNSSECPreparerLeavesPresignedZonesToTheirPrimary(t *testing.T) {
	ring := dnssectest.Ring(t)
	h := zonetest.Header("presigned.test.", 1)
	h.Dnssec, _ = dnssectest.Dnssec(t, ring, h.GetZoneId(), "presigned.test.")
	// Signatures without a denial chain: a problem to report.
	z, err := zonecache.Build(zonetest.Zone(t, h, `
www IN A 192.0.2.1
www IN RRSIG A 13 3 300 20261207120000 20261127110000 1 presigned.test. AAAA
`))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	dnssecPreparer(dnssec.NewOpener(ring), zap.New(core), nil, time.Now)(z)
	if z.Signer != nil {
		t.Error("a pre-signed zone got a live signer")
	}
	var problem, keys bool
	for _, e := range logs.All() {
		switch {
		case strings.Contains(e.Message, "incomplete") && strings.Contains(e.ContextMap()["problem"].(string), "no NSEC or NSEC3 chain"):
			problem = true
		case strings.Contains(e.Message, "not signed live"):
			keys = true
		}
	}
	if !problem || !keys || logs.Len() != 2 {
		t.Errorf("logged %v, want the zone's problem and the ignored keys, once each", logs.All())
	}
}
