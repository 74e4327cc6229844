package builder

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestCompileServesTheZoneSOASettings(t *testing.T) {
	z := &dnsv1.Zone{Id: "z1", AccountId: "a1", Name: "example.com.", Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE,
		NameServers: []string{"ada.ns.example.net.", "bob.ns.example.net."}}
	opts := CompileOptions{SOARname: "dns.example.net."}
	tests := []struct {
		name string
		zs   *dnsv1.ZoneSettings
		want *snapshot.Soa
	}{
		{"defaults", &dnsv1.ZoneSettings{}, &snapshot.Soa{
			Mname: "ada.ns.example.net.", Rname: "dns.example.net.", Serial: 42,
			Refresh: 10000, Retry: 2400, Expire: 604800, Minimum: 1800, Ttl: 3600}},
		{"every field set", &dnsv1.ZoneSettings{SoaMname: "ns1.example.com.", SoaRname: `john\.doe.example.com.`,
			SoaRefresh: 7200, SoaRetry: 1200, SoaExpire: 1209600, SoaMinTtl: 300, SoaTtl: 1800}, &snapshot.Soa{
			Mname: "ns1.example.com.", Rname: `john\.doe.example.com.`, Serial: 42,
			Refresh: 7200, Retry: 1200, Expire: 1209600, Minimum: 300, Ttl: 1800}},
		{"some fields set", &dnsv1.ZoneSettings{SoaRname: "hostmaster.example.com.", SoaTtl: 2000}, &snapshot.Soa{
			Mname: "ada.ns.example.net.", Rname: "hostmaster.example.com.", Serial: 42,
			Refresh: 10000, Retry: 2400, Expire: 604800, Minimum: 1800, Ttl: 2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs := compileZone(z, tt.zs, nil, 42, opts)
			if len(errs) != 0 {
				t.Fatal(errs)
			}
			if got := out.GetHeader().GetSoa(); !proto.Equal(got, tt.want) {
				t.Fatalf("SOA = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSOASerialGrowsWithEveryChange(t *testing.T) {
	z := &dnsv1.Zone{Id: "z1", Name: "example.com.", NameServers: []string{"ns.example.net."}}
	var last uint32
	// Each change commits at a higher etcd revision, which the builder
	// compiles the zone at.
	for _, rev := range []int64{5, 6, 90, 1 << 20} {
		out, _ := compileZone(z, &dnsv1.ZoneSettings{}, nil, rev, CompileOptions{})
		s := out.GetHeader().GetSoa().GetSerial()
		if s <= last {
			t.Fatalf("serial %d at revision %d, not above %d", s, rev, last)
		}
		last = s
	}
}
