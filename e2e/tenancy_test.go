package e2e

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// TestTenantsCannotChangeEachOthersAnswers: through the whole system, with
// each account holding its own token, another account can neither see nor
// change a tenant's zone, records or account settings, and the edges keep
// answering what the tenant configured. The tenant's own flip of enforce
// DNS-only goes through, so the answer checks can fail.
func TestTenantsCannotChangeEachOthersAnswers(t *testing.T) {
	c := newCluster(t, 1)
	acme, evil := c.tenant("acme"), c.tenant("evil")
	ctx := c.ctx()
	zr, err := acme.zones.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	zoneID := zr.GetZone().GetId()
	rr, err := acme.records.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zoneID,
		Record: &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.5", Proxied: true}})
	if err != nil {
		t.Fatal(err)
	}
	proxiedAnswer := func(addr string) error {
		m, err := exchange(addr, "www.shop.example.", dns.TypeA, false)
		if err != nil {
			return err
		}
		if len(m.Answer) == 0 {
			return fmt.Errorf("no answer (rcode %s)", dns.RcodeToString[m.Rcode])
		}
		for _, a := range rdataOf(m.Answer) {
			if a == "203.0.113.5" {
				return fmt.Errorf("the origin %s is exposed", a)
			}
		}
		return nil
	}
	c.eventually("proxied record answered with anycast addresses", proxiedAnswer)

	attacks := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"overwrite the record", func() error {
			_, err := evil.records.UpdateRecord(ctx, &dnsv1.UpdateRecordRequest{ZoneId: zoneID, RecordId: rr.GetRecord().GetId(),
				Record: &dnsv1.Record{Name: "www", Type: "A", Content: "198.51.100.66"}})
			return err
		}, codes.NotFound},
		{"add a record", func() error {
			_, err := evil.records.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zoneID,
				Record: &dnsv1.Record{Name: "login", Type: "A", Content: "198.51.100.66"}})
			return err
		}, codes.NotFound},
		{"delete the zone", func() error {
			_, err := evil.zones.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: zoneID})
			return err
		}, codes.NotFound},
		{"turn on enforce DNS-only to expose origins", func() error {
			_, err := evil.settings.UpdateAccountSettings(ctx, &dnsv1.UpdateAccountSettingsRequest{AccountId: "acme",
				Settings: &dnsv1.AccountSettings{EnforceDnsOnly: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enforce_dns_only"}}})
			return err
		}, codes.PermissionDenied},
		{"read the records", func() error {
			_, err := evil.records.ListRecords(ctx, &dnsv1.ListRecordsRequest{ZoneId: zoneID})
			return err
		}, codes.NotFound},
	}
	for _, a := range attacks {
		if got := status.Code(a.call()); got != a.want {
			t.Errorf("%s: code %v, want %v", a.name, got, a.want)
		}
	}
	if l, err := evil.zones.ListZones(ctx, &dnsv1.ListZonesRequest{Name: "shop.example"}); err != nil || len(l.GetZones()) != 0 {
		t.Errorf("another account lists %v, %v", l.GetZones(), err)
	}
	c.eventually("answers unchanged after the refused calls", func(addr string) error {
		if err := proxiedAnswer(addr); err != nil {
			return err
		}
		return answerIs("login.shop.example.", dns.TypeA, dns.RcodeNameError)(addr)
	})

	if _, err := acme.settings.UpdateAccountSettings(ctx, &dnsv1.UpdateAccountSettingsRequest{AccountId: "acme",
		Settings: &dnsv1.AccountSettings{EnforceDnsOnly: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enforce_dns_only"}}}); err != nil {
		t.Fatal(err)
	}
	c.eventually("the tenant's own flip reaches the edge", answerIs("www.shop.example.", dns.TypeA, dns.RcodeSuccess, "203.0.113.5"))
}
