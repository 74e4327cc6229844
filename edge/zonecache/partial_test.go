package zonecache_test

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// A partial (CNAME) setup is served below the platform's suffix, not under
// its own name: the platform is not authoritative for the domain.
func TestAPartialZoneIsServedBelowThePartialSuffix(t *testing.T) {
	h := zonetest.Header("example.com.", 5)
	h.ServedName = "example.com.cdn.zonegrid.test."
	s := zonetest.Zone(t, h, `
@      CNAME origin.example.net.
www    A     192.0.2.1 ; proxied
alias  CNAME www.example.com.
ext    CNAME host.example.net.
`)
	for _, build := range []struct {
		name string
		fn   func() (*zonecache.Zone, error)
	}{
		{"Build", func() (*zonecache.Zone, error) { return zonecache.Build(s) }},
		{"BuildBytes", func() (*zonecache.Zone, error) {
			b, err := snapshot.MarshalZone(s)
			if err != nil {
				return nil, err
			}
			return zonecache.BuildBytes(b)
		}},
	} {
		t.Run(build.name, func(t *testing.T) {
			z, err := build.fn()
			if err != nil {
				t.Fatal(err)
			}
			if z.Name != "example.com.cdn.zonegrid.test." || z.Key != "example.com." {
				t.Fatalf("served as %q, key %q", z.Name, z.Key)
			}
			if z.Node("www.example.com.cdn.zonegrid.test.") == nil || z.Node("www.example.com.") != nil {
				t.Fatal("records not renamed below the suffix")
			}
			alias := z.Node("alias.example.com.cdn.zonegrid.test.").Set(dns.TypeCNAME)
			if got := alias.RRs[0].(*dns.CNAME).Target; got != "www.example.com.cdn.zonegrid.test." {
				t.Fatalf("in-zone CNAME target %q, want it below the suffix", got)
			}
			ext := z.Node("ext.example.com.cdn.zonegrid.test.").Set(dns.TypeCNAME)
			if got := ext.RRs[0].(*dns.CNAME).Target; got != "host.example.net." {
				t.Fatalf("external CNAME target %q changed", got)
			}
			if z.Apex.Set(dns.TypeCNAME) != nil {
				t.Fatal("a DNS-only apex CNAME is served: partial setups get no apex flattening")
			}
			set := zonecache.NewSet()
			set.Put(z)
			if set.Find("www.example.com.") != nil || set.Find("www.example.com.cdn.zonegrid.test.") != z || set.Get("example.com.") != z {
				t.Fatal("the set finds the zone by its own name, or not by its served name or key")
			}
			if v, ok := set.Version("example.com."); !ok || v != 5 {
				t.Fatalf("version by key: %d, %t", v, ok)
			}
			// A delta renames its records too.
			d := &snapshot.ZoneDelta{Name: "example.com.", ZoneId: h.GetZoneId(), FromVersion: 5, ToVersion: 6,
				Upserts: zonetest.Zone(t, zonetest.Header("example.com.", 6), "new A 192.0.2.9\n").GetRecords()}
			nz, err := zonecache.ApplyDelta(z, d)
			if err != nil {
				t.Fatal(err)
			}
			if nz.Node("new.example.com.cdn.zonegrid.test.") == nil || nz.Name != z.Name || nz.Key != z.Key {
				t.Fatal("the delta's record is not below the suffix")
			}
			// Converted to a full setup: served under its own name only.
			full := zonetest.Header("example.com.", 7)
			fz, err := zonecache.Build(zonetest.Zone(t, full, "www A 192.0.2.1\n"))
			if err != nil {
				t.Fatal(err)
			}
			if !set.Put(fz) || set.Find("www.example.com.cdn.zonegrid.test.") != nil || set.Find("www.example.com.") != fz || set.Len() != 1 {
				t.Fatal("a setup conversion left the old served name, or the new one is not served")
			}
			if !set.Delete("example.com.") || set.Len() != 0 {
				t.Fatal("delete by key")
			}
		})
	}
}
