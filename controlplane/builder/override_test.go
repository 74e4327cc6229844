package builder

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// served is one compiled record as a test reads it.
type served struct {
	rr      string // name type rdata
	proxied bool
}

func servedOf(t *testing.T, snap *snapshot.Zone) []served {
	t.Helper()
	var out []served
	for _, r := range snap.GetRecords() {
		rr, _, err := dns.UnpackRR(r.GetRr(), 0)
		if err != nil {
			t.Fatal(err)
		}
		h := rr.Header()
		out = append(out, served{rr: h.Name + " " + dns.TypeToString[h.Rrtype] + " " + strings.TrimPrefix(rr.String(), h.String()), proxied: r.GetProxied()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rr < out[j].rr })
	return out
}

func xfr(name, typ, content string) *dnsv1.Record {
	return &dnsv1.Record{Id: "x-" + name + typ + content, Name: name, Type: typ, Content: content, Ttl: 600,
		Meta: &dnsv1.RecordMeta{ManagedBy: "secondary_dns"}}
}

func own(name, typ, content string, proxied bool) *dnsv1.Record {
	return &dnsv1.Record{Id: "u-" + name + typ + content, Name: name, Type: typ, Content: content, Ttl: 1, Proxied: proxied}
}

func TestSecondaryOverrideMerge(t *testing.T) {
	secondary := &dnsv1.Zone{Id: "z1", AccountId: "a1", Name: "example.com.", Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY,
		Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, NameServers: []string{"ada.ns.example.net."}}
	full := &dnsv1.Zone{Id: "z2", AccountId: "a1", Name: "example.com.", Type: dnsv1.ZoneType_ZONE_TYPE_FULL,
		Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, NameServers: []string{"ada.ns.example.net."}}
	on := &dnsv1.ZoneSettings{SecondaryOverrides: true}
	mx := xfr("example.com.", "MX", "mail.example.com.")
	mx.Priority = 10
	base := []*dnsv1.Record{
		xfr("example.com.", "A", "192.0.2.1"),
		xfr("example.com.", "AAAA", "2001:db8::1"),
		mx,
		xfr("www.example.com.", "A", "192.0.2.2"),
		xfr("www.example.com.", "A", "192.0.2.3"),
		xfr("www.example.com.", "AAAA", "2001:db8::2"),
		xfr("www.example.com.", "TXT", "\"hello\""),
		xfr("alias.example.com.", "CNAME", "target.example.net."),
		xfr("mail.example.com.", "A", "192.0.2.4"),
	}
	with := func(extra ...*dnsv1.Record) []*dnsv1.Record { return append(slices.Clone(base), extra...) }
	asTransferred := []served{
		{"alias.example.com. CNAME target.example.net.", false},
		{"example.com. A 192.0.2.1", false},
		{"example.com. AAAA 2001:db8::1", false},
		{"example.com. MX 10 mail.example.com.", false},
		{"mail.example.com. A 192.0.2.4", false},
		{"www.example.com. A 192.0.2.2", false},
		{"www.example.com. A 192.0.2.3", false},
		{"www.example.com. AAAA 2001:db8::2", false},
		{"www.example.com. TXT \"hello\"", false},
	}
	proxy := func(in []served, names ...string) []served {
		out := slices.Clone(in)
		for i, s := range out {
			for _, n := range names {
				typ := strings.Fields(s.rr)[1]
				if strings.HasPrefix(s.rr, n+" ") && (typ == "A" || typ == "AAAA" || typ == "CNAME") {
					out[i].proxied = true
				}
			}
		}
		return out
	}
	withoutApexAddresses := func(in []served, extra ...served) []served {
		var out []served
		for _, s := range in {
			if !strings.HasPrefix(s.rr, "example.com. A ") && !strings.HasPrefix(s.rr, "example.com. AAAA ") {
				out = append(out, s)
			}
		}
		out = append(out, extra...)
		sort.Slice(out, func(i, j int) bool { return out[i].rr < out[j].rr })
		return out
	}
	tests := []struct {
		name string
		zone *dnsv1.Zone
		zs   *dnsv1.ZoneSettings
		recs []*dnsv1.Record
		want []served
	}{
		{"no override: served as transferred", secondary, on, base, asTransferred},
		{"a proxied A override proxies every A and AAAA at its name, its content unserved", secondary, on,
			with(own("www.example.com.", "A", "203.0.113.50", true)), proxy(asTransferred, "www.example.com.")},
		{"the override's type does not matter: an AAAA override proxies the A records too", secondary, on,
			with(own("www.example.com.", "AAAA", "2001:db8::99", true)), proxy(asTransferred, "www.example.com.")},
		{"an override proxies a transferred CNAME at its name", secondary, on,
			with(own("alias.example.com.", "A", "203.0.113.50", true)), proxy(asTransferred, "alias.example.com.")},
		{"an override at a name touches no other name", secondary, on,
			with(own("mail.example.com.", "A", "203.0.113.50", true)), proxy(asTransferred, "mail.example.com.")},
		{"a DNS-only override changes nothing", secondary, on,
			with(own("www.example.com.", "A", "203.0.113.50", false)), asTransferred},
		{"an apex CNAME hides the transferred apex A and AAAA and is served", secondary, on,
			with(own("example.com.", "CNAME", "app.example.net.", false)),
			withoutApexAddresses(asTransferred, served{"example.com. CNAME app.example.net.", false})},
		{"a proxied apex CNAME is served proxied", secondary, on,
			with(own("example.com.", "CNAME", "app.example.net.", true)),
			withoutApexAddresses(asTransferred, served{"example.com. CNAME app.example.net.", true})},
		{"a user record that is no override is not served", secondary, on,
			with(own("extra.example.com.", "TXT", "\"mine\"", false)), asTransferred},
		{"overrides off: served as transferred", secondary, &dnsv1.ZoneSettings{},
			with(own("www.example.com.", "A", "203.0.113.50", true), own("example.com.", "CNAME", "app.example.net.", false)), asTransferred},
		{"the transferred SOA is not a record", secondary, on,
			with(&dnsv1.Record{Id: "soa", Name: "example.com.", Type: "SOA", Ttl: 3600,
				Content: "ns1.example.com. hostmaster.example.com. 7 3600 900 604800 300", Meta: &dnsv1.RecordMeta{ManagedBy: "secondary_dns"}}),
			asTransferred},
		{"a pre-signed zone (transferred RRSIGs): overrides not applied, the DNSSEC records served", secondary, on,
			with(own("www.example.com.", "A", "203.0.113.50", true), own("example.com.", "CNAME", "app.example.net.", false),
				xfr("www.example.com.", "RRSIG", "A 13 3 600 20261231000000 20261101000000 12345 example.com. dGVzdA=="),
				xfr("www.example.com.", "NSEC", "mail.example.com. A TXT AAAA RRSIG NSEC")),
			append(slices.Clone(asTransferred),
				served{"www.example.com. NSEC mail.example.com. A TXT AAAA RRSIG NSEC", false},
				served{"www.example.com. RRSIG A 13 3 600 20261231000000 20261101000000 12345 example.com. dGVzdA==", false})},
		{"a full zone is served as stored", full, on,
			[]*dnsv1.Record{own("www.example.com.", "A", "192.0.2.2", false), own("www.example.com.", "A", "192.0.2.3", true)},
			[]served{{"www.example.com. A 192.0.2.2", false}, {"www.example.com. A 192.0.2.3", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.recs)
			snap, errs := compileZone(tt.zone, tt.zs, tt.recs, 42, CompileOptions{SOARname: "dns.example.net."})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			want := slices.Clone(tt.want)
			sort.Slice(want, func(i, j int) bool { return want[i].rr < want[j].rr })
			if got := servedOf(t, snap); !slices.Equal(got, want) {
				t.Fatalf("served:\n%v\nwant:\n%v", got, want)
			}
			for i, r := range in {
				if tt.recs[i] != r || (r.GetMeta().GetManagedBy() != "" && r.GetProxied()) {
					t.Fatalf("the stored records were changed: %v", r)
				}
			}
		})
	}
}

func TestSecondaryZoneServesThePrimarySOA(t *testing.T) {
	secondary := &dnsv1.Zone{Id: "z1", AccountId: "a1", Name: "example.com.", Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY,
		Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, NameServers: []string{"ada.ns.example.net."}}
	full := &dnsv1.Zone{Id: "z2", AccountId: "a1", Name: "example.com.", Type: dnsv1.ZoneType_ZONE_TYPE_FULL,
		Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, NameServers: []string{"ada.ns.example.net."}}
	soaRec := &dnsv1.Record{Id: "soa", Name: "example.com.", Type: "SOA", Ttl: 900,
		Content: "ns1.example.com. hostmaster.example.com. 2026112701 3600 900 604800 300", Meta: &dnsv1.RecordMeta{ManagedBy: "secondary_dns"}}
	primary := &snapshot.Soa{Mname: "ns1.example.com.", Rname: "hostmaster.example.com.", Serial: 2026112701,
		Refresh: 3600, Retry: 900, Expire: 604800, Minimum: 300, Ttl: 900}
	platform := &snapshot.Soa{Mname: "ada.ns.example.net.", Rname: "dns.example.net.", Serial: 42,
		Refresh: DefaultSOARefresh, Retry: DefaultSOARetry, Expire: DefaultSOAExpire, Minimum: DefaultSOAMinimum, Ttl: DefaultSOATTL}
	tests := []struct {
		name string
		zone *dnsv1.Zone
		recs []*dnsv1.Record
		want *snapshot.Soa
	}{
		{"transferred: the primary's SOA, every field", secondary, []*dnsv1.Record{soaRec, xfr("www.example.com.", "A", "192.0.2.1")}, primary},
		{"overrides do not change the serial", secondary, []*dnsv1.Record{soaRec, xfr("www.example.com.", "A", "192.0.2.1"),
			own("www.example.com.", "A", "203.0.113.9", true)}, primary},
		{"not transferred yet: the platform's", secondary, nil, platform},
		{"a user's SOA-typed record is not the primary's", secondary, []*dnsv1.Record{{Name: "example.com.", Type: "SOA", Content: soaRec.Content}}, platform},
		{"a full zone: the platform's", full, []*dnsv1.Record{soaRec}, platform},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, _ := compileZone(tt.zone, &dnsv1.ZoneSettings{SecondaryOverrides: true}, tt.recs, 42, CompileOptions{SOARname: "dns.example.net."})
			got := snap.GetHeader().GetSoa()
			if got.String() != tt.want.String() {
				t.Fatalf("SOA = %v, want %v", got, tt.want)
			}
			for _, r := range snap.GetRecords() {
				if rr, _, _ := dns.UnpackRR(r.GetRr(), 0); rr != nil && rr.Header().Rrtype == dns.TypeSOA {
					t.Fatalf("an SOA among the records: %v", rr)
				}
			}
		})
	}
}
