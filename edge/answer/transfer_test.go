package answer

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

const transferZone = `
@        IN MX    10 mail.xfr.test.
web      IN A     198.51.100.1 ; proxied
web      IN TXT   "web txt"
mixed    IN A     198.51.100.2 ; proxied
mixed    IN AAAA  2001:db8:1::3
pc       IN CNAME inzone ; proxied
inzone   IN A     192.0.2.60
inzone   IN AAAA  2001:db8::60
flat     IN CNAME inzone ; flatten
plain    IN CNAME inzone
worker   IN A     198.51.100.5 ; proxied managed=workers
*.wild   IN A     198.51.100.8 ; proxied
sub      IN NS    ns.sub.xfr.test.
ns.sub   IN A     198.51.100.53 ; proxied
`

// transferOf renders every name of the zone with enforce and returns the
// records by owner and type, as text without TTL.
func transferOf(t *testing.T, status snapshot.ZoneStatus, enforce bool) (map[string][]string, *Engine) {
	t.Helper()
	zones := zonecache.NewSet()
	e := New(Config{Zones: zones,
		AnycastIPv4: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12")},
		AnycastIPv6: []netip.Addr{netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::11")}})
	h := zonetest.Header("xfr.test.", 1)
	h.Status = status
	z, err := zonecache.Build(zonetest.Zone(t, h, transferZone))
	if err != nil {
		t.Fatal(err)
	}
	zones.Put(z)
	r := e.Transfer(z, enforce)
	out := map[string][]string{}
	z.EachNode(func(n *zonecache.Node) bool {
		rrs, _ := r.Node(context.Background(), n, nil)
		for _, rr := range rrs {
			k := rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
			out[k] = append(out[k], strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
		return true
	})
	for k := range out {
		slices.Sort(out[k])
	}
	return out, e
}

// The transfer rendering of each kind of name, and how the zone status
// and enforce DNS-only change it (docs/ZONE_TRANSFERS.md, "Outgoing
// transfers").
func TestTransferRendersWhatTheEdgeAnswers(t *testing.T) {
	active, e := transferOf(t, snapshot.ZoneStatus_ZONE_STATUS_ACTIVE, false)
	anycast := func(owner string, qtype uint16) []string {
		var out []string
		for _, s := range poolA(e, "id-xfr.test", owner, qtype) {
			out = append(out, s[strings.LastIndex(s, " ")+1:])
		}
		slices.Sort(out)
		return out
	}
	enforced, _ := transferOf(t, snapshot.ZoneStatus_ZONE_STATUS_ACTIVE, true)
	pending, _ := transferOf(t, snapshot.ZoneStatus_ZONE_STATUS_PENDING, false)
	tests := []struct {
		name string
		got  map[string][]string
		key  string
		want []string // nil: nothing of that type goes out
	}{
		{"proxied A name: anycast A", active, "web.xfr.test. A", anycast("web.xfr.test.", dns.TypeA)},
		{"proxied A name: anycast AAAA too (P2)", active, "web.xfr.test. AAAA", anycast("web.xfr.test.", dns.TypeAAAA)},
		{"other types at a proxied name as stored (P6)", active, "web.xfr.test. TXT", []string{`"web txt"`}},
		{"a proxied A makes the stored AAAA go (P2)", active, "mixed.xfr.test. AAAA", anycast("mixed.xfr.test.", dns.TypeAAAA)},
		{"proxied CNAME: addresses, no CNAME (P3)", active, "pc.xfr.test. CNAME", nil},
		{"proxied CNAME: anycast A", active, "pc.xfr.test. A", anycast("pc.xfr.test.", dns.TypeA)},
		{"CNAME asking for flattening: its target's addresses", active, "flat.xfr.test. A", []string{"192.0.2.60"}},
		{"CNAME asking for flattening: no CNAME", active, "flat.xfr.test. CNAME", nil},
		{"plain CNAME below the apex kept", active, "plain.xfr.test. CNAME", []string{"inzone.xfr.test."}},
		{"proxied wildcard under its * owner", active, "*.wild.xfr.test. A", anycast("*.wild.xfr.test.", dns.TypeA)},
		{"glue below a cut as stored, even proxied", active, "ns.sub.xfr.test. A", []string{"198.51.100.53"}},
		{"served apex NS", active, "xfr.test. NS", []string{"ns1.zonegrid.test.", "ns2.zonegrid.test."}},
		{"no SOA from the node (the transfer frames with it)", active, "xfr.test. SOA", nil},
		{"enforce DNS-only: the stored address", enforced, "web.xfr.test. A", []string{"198.51.100.1"}},
		{"enforce DNS-only: no AAAA invented", enforced, "web.xfr.test. AAAA", nil},
		{"enforce DNS-only: proxied CNAME as stored", enforced, "pc.xfr.test. CNAME", []string{"inzone.xfr.test."}},
		{"enforce DNS-only: Workers exempt (E2)", enforced, "worker.xfr.test. A", anycast("worker.xfr.test.", dns.TypeA)},
		{"pending zone: DNS-only", pending, "web.xfr.test. A", []string{"198.51.100.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got[tt.key]; !slices.Equal(got, tt.want) {
				t.Fatalf("%s: got %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// An apex CNAME is flattened (F1); the engine has no resolver here, so an
// external target fails and its addresses are left out, reported.
func TestTransferFlattensTheApexCNAME(t *testing.T) {
	zones := zonecache.NewSet()
	e := New(Config{Zones: zones})
	z, err := zonecache.Build(zonetest.Zone(t, zonetest.Header("apex.test.", 1), "@ IN CNAME www\nwww IN A 192.0.2.1\next IN CNAME x.example.net. ; flatten\n"))
	if err != nil {
		t.Fatal(err)
	}
	zones.Put(z)
	r := e.Transfer(z, false)
	rrs, info := r.Node(context.Background(), z.Apex, nil)
	var got []string
	for _, rr := range rrs {
		got = append(got, dns.TypeToString[rr.Header().Rrtype])
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"A", "NS", "NS"}) || !info.Dynamic || info.Failed {
		t.Fatalf("apex: %v %+v", rrs, info)
	}
	rrs, info = r.Node(context.Background(), z.Node("ext.apex.test."), nil)
	if len(rrs) != 0 || !info.Dynamic || !info.Failed {
		t.Fatalf("external target without resolver: %v %+v", rrs, info)
	}
}
