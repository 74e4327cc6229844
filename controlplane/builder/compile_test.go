package builder

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestPackRecordProducesWireForm(t *testing.T) {
	tests := []struct {
		name    string
		rec     *dnsv1.Record
		want    string // presentation of the unpacked RR
		wantErr bool
	}{
		{"A with automatic ttl", &dnsv1.Record{Name: "www.example.com.", Type: "A", Content: "192.0.2.1", Ttl: 1},
			"www.example.com.\t300\tIN\tA\t192.0.2.1", false},
		{"MX carries priority", &dnsv1.Record{Name: "example.com.", Type: "MX", Content: "mail.example.com.", Priority: 10, Ttl: 600},
			"example.com.\t600\tIN\tMX\t10 mail.example.com.", false},
		{"URI carries priority", &dnsv1.Record{Name: "_http._tcp.example.com.", Type: "URI", Content: "1 \"https://example.com/\"", Priority: 5, Ttl: 60},
			"_http._tcp.example.com.\t60\tIN\tURI\t5 1 \"https://example.com/\"", false},
		{"TXT quoted", &dnsv1.Record{Name: "example.com.", Type: "txt", Content: "\"v=spf1 -all\"", Ttl: 300},
			"example.com.\t300\tIN\tTXT\t\"v=spf1 -all\"", false},
		{"garbage content", &dnsv1.Record{Name: "example.com.", Type: "A", Content: "not-an-ip", Ttl: 300}, "", true},
		{"line break injection", &dnsv1.Record{Name: "example.com.", Type: "TXT", Content: "\"a\"\nevil.com. 300 IN A 192.0.2.1", Ttl: 300}, "", true},
		{"unknown type", &dnsv1.Record{Name: "example.com.", Type: "BOGUS", Content: "x", Ttl: 300}, "", true},
	}
	buf := make([]byte, dns.MaxMsgSize)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := packRecord(tt.rec, buf)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("packRecord = %x, want an error", wire)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rr, _, err := dns.UnpackRR(wire, 0)
			if err != nil {
				t.Fatalf("unpack: %v", err)
			}
			if rr.String() != tt.want {
				t.Fatalf("rr = %q, want %q", rr.String(), tt.want)
			}
		})
	}
}

func TestChooseServedZone(t *testing.T) {
	pending := func(id string) *dnsv1.Zone { return &dnsv1.Zone{Id: id, Status: dnsv1.ZoneStatus_ZONE_STATUS_PENDING} }
	active := func(id string) *dnsv1.Zone { return &dnsv1.Zone{Id: id, Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE} }
	moved := func(id string) *dnsv1.Zone { return &dnsv1.Zone{Id: id, Status: dnsv1.ZoneStatus_ZONE_STATUS_MOVED} }
	deleted := func(id string) *dnsv1.Zone { return &dnsv1.Zone{Id: id, Status: dnsv1.ZoneStatus_ZONE_STATUS_DELETED} }
	initializing := func(id string) *dnsv1.Zone {
		return &dnsv1.Zone{Id: id, Status: dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING}
	}
	tests := []struct {
		name  string
		zones []*dnsv1.Zone
		want  string
	}{
		{"none", nil, ""},
		{"earliest pending", []*dnsv1.Zone{pending("a"), pending("b")}, "a"},
		{"active beats older pending", []*dnsv1.Zone{pending("a"), active("b")}, "b"},
		{"moved alone is served", []*dnsv1.Zone{moved("a")}, "a"},
		{"pending beats older moved", []*dnsv1.Zone{moved("a"), pending("b")}, "b"},
		{"deleted alone is served", []*dnsv1.Zone{deleted("a")}, "a"},
		{"moved beats older deleted", []*dnsv1.Zone{deleted("a"), moved("b")}, "b"},
		{"pending beats deleted", []*dnsv1.Zone{deleted("a"), pending("b")}, "b"},
		{"initializing is never served", []*dnsv1.Zone{initializing("a")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := choose(tt.zones).GetId(); got != tt.want {
				t.Fatalf("choose = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompileZoneHeaderDefaultsAndOverrides(t *testing.T) {
	z := &dnsv1.Zone{Id: "z1", AccountId: "a1", Name: "example.com.", Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE,
		NameServers: []string{"ns1.zonegrid.test.", "ns2.zonegrid.test."}}
	recs := []*dnsv1.Record{
		{Id: "r1", Name: "www.example.com.", Type: "A", Content: "192.0.2.1", Ttl: 1, Proxied: true,
			Meta: &dnsv1.RecordMeta{ManagedBy: "lb"}},
		{Id: "bad", Name: "x.example.com.", Type: "A", Content: "nope", Ttl: 1},
		{Id: "r2", Name: "c.example.com.", Type: "CNAME", Content: "t.example.net.", Ttl: 1,
			Settings: &dnsv1.RecordSettings{FlattenCname: true}},
	}
	tests := []struct {
		name     string
		settings *dnsv1.ZoneSettings
		wantNS   uint32
		wantMin  uint32
		wantRefr uint32
	}{
		{"defaults", &dnsv1.ZoneSettings{}, DefaultNSTTL, DefaultSOAMinimum, DefaultSOARefresh},
		{"overrides", &dnsv1.ZoneSettings{NsTtl: 600, SoaMinTtl: 60, SoaRefresh: 7200}, 600, 60, 7200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, bad := compileZone(z, tt.settings, recs, 42, CompileOptions{SOARname: "dns.zonegrid.test."})
			h := snap.GetHeader()
			if h.GetFormat() != snapshot.FormatVersion || h.GetVersion() != 42 || h.GetSoa().GetSerial() != 42 {
				t.Fatalf("header = %v", h)
			}
			if h.GetStatus() != snapshot.ZoneStatus_ZONE_STATUS_ACTIVE || h.GetSoa().GetMname() != "ns1.zonegrid.test." {
				t.Fatalf("header = %v", h)
			}
			if h.GetNsTtl() != tt.wantNS || h.GetSoa().GetMinimum() != tt.wantMin || h.GetSoa().GetRefresh() != tt.wantRefr {
				t.Fatalf("ns_ttl/min/refresh = %d/%d/%d", h.GetNsTtl(), h.GetSoa().GetMinimum(), h.GetSoa().GetRefresh())
			}
			if len(bad) != 1 || len(snap.GetRecords()) != 2 {
				t.Fatalf("records = %d, bad = %v; want 2 and the bad one reported", len(snap.GetRecords()), bad)
			}
			r1, r2 := snap.GetRecords()[0], snap.GetRecords()[1]
			if !r1.GetProxied() || r1.GetManagedBy() != "lb" || !r2.GetFlattenCname() {
				t.Fatalf("flags not copied: %v %v", r1, r2)
			}
		})
	}
}

func BenchmarkCompileZone(b *testing.B) {
	z := &dnsv1.Zone{Id: "z1", AccountId: "a1", Name: "example.com.", NameServers: []string{"ns1.zonegrid.test.", "ns2.zonegrid.test."}}
	recs := make([]*dnsv1.Record, 10000)
	for i := range recs {
		recs[i] = &dnsv1.Record{Id: "r", Name: "host.example.com.", Type: "A", Content: "192.0.2.1", Ttl: 1}
	}
	b.ReportAllocs()
	for b.Loop() {
		compileZone(z, &dnsv1.ZoneSettings{}, recs, 1, CompileOptions{SOARname: "dns.zonegrid.test."})
	}
}

func TestApexNSRecordsAreServedOnlyWithMultiProvider(t *testing.T) {
	recs := []*dnsv1.Record{
		{Id: "n1", Name: "mp.test.", Type: "NS", Content: "NS1.External.net", Ttl: 3600},
		{Id: "n2", Name: "mp.test.", Type: "NS", Content: "ada.ns.zg.test.", Ttl: 3600},
		{Id: "n3", Name: "sub.mp.test.", Type: "NS", Content: "ns.child.net.", Ttl: 3600},
	}
	ours := []string{"ada.ns.zg.test.", "bob.ns.zg.test."}
	tests := []struct {
		name  string
		typ   dnsv1.ZoneType
		multi bool
		want  []string
	}{
		{"full zone ignores the user's apex NS", dnsv1.ZoneType_ZONE_TYPE_FULL, false, ours},
		{"multi-provider adds them after ours, once", dnsv1.ZoneType_ZONE_TYPE_FULL, true, append(slices.Clone(ours), "ns1.external.net.")},
		{"secondary zones always do (the primary's)", dnsv1.ZoneType_ZONE_TYPE_SECONDARY, false, append(slices.Clone(ours), "ns1.external.net.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := &dnsv1.Zone{Id: "z", AccountId: "a", Name: "mp.test.", Type: tt.typ, Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, NameServers: ours}
			recs := recs
			if tt.typ == dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
				// A secondary zone's records come from its primary
				// (user records there are overrides only: override.go).
				recs = transferredCopies(recs)
			}
			snap, errs := compileZone(z, &dnsv1.ZoneSettings{MultiProvider: tt.multi}, recs, 7, CompileOptions{})
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if got := snap.GetHeader().GetNameServers(); !slices.Equal(got, tt.want) {
				t.Fatalf("apex NS %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPartialZonesAreServedBelowThePartialSuffix(t *testing.T) {
	for _, tt := range []struct {
		typ    dnsv1.ZoneType
		suffix string
		want   string
	}{
		{dnsv1.ZoneType_ZONE_TYPE_PARTIAL, "CDN.zonegrid.test", "part.example.cdn.zonegrid.test."},
		{dnsv1.ZoneType_ZONE_TYPE_PARTIAL, "", ""},
		{dnsv1.ZoneType_ZONE_TYPE_FULL, "cdn.zonegrid.test.", ""},
	} {
		z := &dnsv1.Zone{Id: "p", AccountId: "a", Name: "part.example.", Type: tt.typ, Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE}
		snap, _ := compileZone(z, &dnsv1.ZoneSettings{}, nil, 3, CompileOptions{PartialSuffix: tt.suffix})
		if got := snap.GetHeader().GetServedName(); got != tt.want {
			t.Errorf("%v with suffix %q: served name %q, want %q", tt.typ, tt.suffix, got, tt.want)
		}
	}
}

// transferredCopies returns copies of recs marked as transferred from a
// secondary zone's primary.
func transferredCopies(recs []*dnsv1.Record) []*dnsv1.Record {
	out := make([]*dnsv1.Record, 0, len(recs))
	for _, r := range recs {
		c := proto.Clone(r).(*dnsv1.Record)
		c.Meta = &dnsv1.RecordMeta{ManagedBy: "secondary_dns"}
		out = append(out, c)
	}
	return out
}
