package records_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

// secondaryZone makes a secondary zone with records as a transfer writes
// them (managed by secondary_dns) and the Secondary DNS override setting
// as given.
func secondaryZone(t *testing.T, e *env, name string, overrides bool, transferred ...string) *dnsv1.Zone {
	t.Helper()
	id := fmt.Sprintf("zone%d", zoneSeq.Add(1))
	z, err := e.st.CreateZone(ctx(t), "acct1", name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: "acct1", Name: name, Plan: dnsv1.Plan_PLAN_ENTERPRISE, Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateZoneSettings(ctx(t), id, func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
		cur.SecondaryOverrides = overrides
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpdateRecords(ctx(t), id, func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
		var ops []store.RecordOp
		for i, line := range transferred {
			f := strings.SplitN(line, " ", 3)
			ops = append(ops, store.RecordOp{Put: &dnsv1.Record{Id: fmt.Sprintf("%032x", i+1), ZoneId: id, Name: f[0], Type: f[1], Content: f[2],
				Ttl: 600, Meta: &dnsv1.RecordMeta{ManagedBy: "secondary_dns"}}})
		}
		return ops, nil
	}); err != nil {
		t.Fatal(err)
	}
	return z
}

func TestSecondaryZoneAcceptsOnlyOverridesAndTheApexCNAME(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_ENTERPRISE)
	z := secondaryZone(t, e, "sec.example.", true,
		"sec.example. A 192.0.2.1", "sec.example. AAAA 2001:db8::1", "sec.example. TXT \"v=spf1 -all\"",
		"www.sec.example. A 192.0.2.2", "www.sec.example. AAAA 2001:db8::2", "alias.sec.example. CNAME target.example.net.",
		"mail.sec.example. A 192.0.2.25", "txt.sec.example. TXT \"only text\"", "dup.sec.example. A 192.0.2.3")
	tests := []struct {
		name  string
		rec   *dnsv1.Record
		code  codes.Code
		field string
	}{
		{"a proxied A override at a transferred name", &dnsv1.Record{Name: "www", Type: "A", Content: "198.51.100.7", Proxied: true}, codes.OK, ""},
		{"an override of another type than the transferred records", &dnsv1.Record{Name: "alias", Type: "AAAA", Content: "2001:db8::9", Proxied: true}, codes.OK, ""},
		{"an override's content is not checked for the proxy: it is not served", &dnsv1.Record{Name: "mail", Type: "A", Content: "10.0.0.1", Proxied: true}, codes.OK, ""},
		{"an override of the apex addresses", &dnsv1.Record{Name: "@", Type: "A", Content: "198.51.100.7", Proxied: true}, codes.OK, ""},
		{"a first override at a name", &dnsv1.Record{Name: "dup", Type: "A", Content: "198.51.100.7", Proxied: true}, codes.OK, ""},
		{"a second override at a name", &dnsv1.Record{Name: "dup", Type: "AAAA", Content: "2001:db8::7", Proxied: true}, codes.InvalidArgument, "record.name"},
		{"an override at a name without transferred addresses", &dnsv1.Record{Name: "txt", Type: "A", Content: "198.51.100.7", Proxied: true}, codes.InvalidArgument, "record.name"},
		{"an override at a name without transferred records", &dnsv1.Record{Name: "nothing", Type: "A", Content: "198.51.100.7", Proxied: true}, codes.InvalidArgument, "record.name"},
		{"a DNS-only address record", &dnsv1.Record{Name: "www", Type: "A", Content: "198.51.100.7"}, codes.InvalidArgument, "record.proxied"},
		{"a TXT record", &dnsv1.Record{Name: "extra", Type: "TXT", Content: "mine"}, codes.InvalidArgument, "record.type"},
		{"an MX record at the apex", &dnsv1.Record{Name: "@", Type: "MX", Content: "mail.sec.example.", Priority: 10}, codes.InvalidArgument, "record.type"},
		{"a CNAME at the apex, DNS-only, over the transferred addresses", &dnsv1.Record{Name: "@", Type: "CNAME", Content: "app.example.net."}, codes.OK, ""},
		{"a second CNAME at the apex", &dnsv1.Record{Name: "@", Type: "CNAME", Content: "other.example.net.", Proxied: true}, codes.InvalidArgument, "record.name"},
		{"a comment", &dnsv1.Record{Name: "www", Type: "A", Content: "198.51.100.7", Proxied: true, Comment: "c"}, codes.InvalidArgument, "record.comment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(), Record: tt.rec})
			if tt.code == codes.OK {
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				if r := resp.GetRecord(); r.GetMeta().GetManagedBy() != "" || r.GetProxied() != tt.rec.GetProxied() {
					t.Fatalf("stored %v", r)
				}
				return
			}
			code, field := servicetest.Violation(err)
			if code != tt.code || field != tt.field {
				t.Fatalf("error = %v (field %q), want %v on %q", err, field, tt.code, tt.field)
			}
		})
	}
}

func TestSecondaryOverrideEdits(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_ENTERPRISE)
	z := secondaryZone(t, e, "sec.example.", true, "www.sec.example. A 192.0.2.2", "api.sec.example. A 192.0.2.3")
	ov, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(),
		Record: &dnsv1.Record{Name: "www", Type: "A", Content: "198.51.100.7", Proxied: true}})
	if err != nil {
		t.Fatal(err)
	}
	id := ov.GetRecord().GetId()
	// Turning the override DNS-only is refused: deleting it is the way.
	_, err = e.client.PatchRecord(ctx(t), &dnsv1.PatchRecordRequest{ZoneId: z.GetId(), RecordId: id,
		Record: &dnsv1.Record{Proxied: false}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"proxied"}}})
	wantInvalid(t, err, "record.proxied")
	// Moving it to another transferred name is an edit like any.
	if _, err := e.client.PatchRecord(ctx(t), &dnsv1.PatchRecordRequest{ZoneId: z.GetId(), RecordId: id,
		Record: &dnsv1.Record{Name: "api"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}}); err != nil {
		t.Fatalf("move the override: %v", err)
	}
	if _, err := e.client.DeleteRecord(ctx(t), &dnsv1.DeleteRecordRequest{ZoneId: z.GetId(), RecordId: id}); err != nil {
		t.Fatalf("delete the override: %v", err)
	}
}

func TestSecondaryOverridesNeedTheZoneSetting(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_ENTERPRISE)
	z := secondaryZone(t, e, "off.example.", false, "off.example. A 192.0.2.1", "www.off.example. A 192.0.2.2")
	for _, rec := range []*dnsv1.Record{
		{Name: "www", Type: "A", Content: "198.51.100.7", Proxied: true},
		{Name: "@", Type: "CNAME", Content: "app.example.net."},
	} {
		_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(), Record: rec})
		st := grpcstatus.Convert(err)
		var subject string
		for _, d := range st.Details() {
			if pf, ok := d.(*errdetails.PreconditionFailure); ok && len(pf.GetViolations()) > 0 {
				subject = pf.GetViolations()[0].GetSubject()
			}
		}
		if st.Code() != codes.FailedPrecondition || subject != "settings.secondary_overrides" {
			t.Fatalf("%v with overrides off: %v (subject %q), want FailedPrecondition on settings.secondary_overrides", rec, err, subject)
		}
	}
}

// "Pre-signed DNSSEC does not support Secondary DNS Overrides": on a zone
// that holds its primary's signatures no override is taken.
func TestPresignedZoneRefusesOverrides(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_ENTERPRISE)
	z := secondaryZone(t, e, "signed.example.", true,
		"signed.example. A 192.0.2.1", "signed.example. RRSIG A 13 2 300 20261231000000 20261101000000 12345 signed.example. dGVzdA==",
		"www.signed.example. A 192.0.2.2", "www.signed.example. RRSIG A 13 3 300 20261231000000 20261101000000 12345 signed.example. dGVzdA==")
	for _, rec := range []*dnsv1.Record{
		{Name: "www", Type: "A", Content: "198.51.100.7", Proxied: true},
		{Name: "@", Type: "CNAME", Content: "app.example.net."},
	} {
		_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(), Record: rec})
		st := grpcstatus.Convert(err)
		var typ string
		for _, d := range st.Details() {
			if pf, ok := d.(*errdetails.PreconditionFailure); ok && len(pf.GetViolations()) > 0 {
				typ = pf.GetViolations()[0].GetType()
			}
		}
		if st.Code() != codes.FailedPrecondition || typ != "DNSSEC_PRESIGNED" {
			t.Fatalf("%v on a pre-signed zone: %v (type %q), want FailedPrecondition DNSSEC_PRESIGNED", rec, err, typ)
		}
	}
}

// The export of a transferred secondary zone writes the SOA the edges
// serve, the primary's, once; the transferred records follow.
func TestSecondaryZoneExportsThePrimarySOA(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_ENTERPRISE)
	z := secondaryZone(t, e, "exp.example.", true,
		"exp.example. SOA ns1.primary.example. admin.primary.example. 2026112801 7200 3600 1209600 300",
		"www.exp.example. A 192.0.2.2")
	resp, err := e.client.ExportRecords(ctx(t), &dnsv1.ExportRecordsRequest{ZoneId: z.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	out := string(resp.GetZoneFile())
	if strings.Count(out, "SOA") != 1 || !strings.Contains(out, "ns1.primary.example. admin.primary.example. 2026112801 7200 3600 1209600 300") ||
		!strings.Contains(out, "192.0.2.2") {
		t.Fatalf("export:\n%s", out)
	}
}

// The record quota does not count a secondary zone's transferred records
// against its overrides.
func TestSecondaryOverridesAreNotHeldByTheRecordQuota(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_ENTERPRISE)
	z := secondaryZone(t, e, "big.example.", true, "a.big.example. A 192.0.2.1", "b.big.example. A 192.0.2.2", "c.big.example. A 192.0.2.3")
	if _, err := e.st.UpdateZoneSettings(ctx(t), z.GetId(), func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
		cur.MaxRecordsOverride = 2 // fewer than the transferred records
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if _, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(),
			Record: &dnsv1.Record{Name: n, Type: "A", Content: "198.51.100.7", Proxied: true}}); err != nil {
			t.Fatalf("override at %s: %v", n, err)
		}
	}
}
