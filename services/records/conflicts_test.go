package records_test

import (
	"strings"
	"testing"

	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func srv(target string) *dnsv1.Record {
	return &dnsv1.Record{Name: "_sip._tcp", Type: "SRV", Data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Priority: 1, Weight: 1, Port: 5060, Target: target}}}}
}

// Every rule of conflicts.go, one named case each, over the real service
// and etcd (docs/RECORD_RULES.md lists them with their sources).
// TestCrossRecordRules in service_test.go holds the older cases.
func TestConflictRules(t *testing.T) {
	tests := []struct {
		name     string
		existing []*dnsv1.Record
		in       *dnsv1.Record
		field    string // "" means accepted
		message  string // part of the message, when refused
	}{
		// Identical records ("Cannot add DNS records with the same name").
		{"identical TXT refused", []*dnsv1.Record{{Name: "t", Type: "TXT", Content: "hello"}},
			&dnsv1.Record{Name: "t", Type: "TXT", Content: `"hello"`}, "record.content", "identical record"},
		{"same content other type accepted", []*dnsv1.Record{{Name: "t", Type: "TXT", Content: "mail.example.com"}},
			&dnsv1.Record{Name: "t", Type: "MX", Content: "mail.example.com", Priority: 10}, "", ""},
		{"identical record differing only in proxied refused", []*dnsv1.Record{{Name: "p", Type: "A", Content: "203.0.113.1"}},
			&dnsv1.Record{Name: "p", Type: "A", Content: "203.0.113.1", Proxied: true}, "record.content", "identical record"},

		// CNAME exclusivity (RFC 1034; "Cannot add DNS records with the
		// same name").
		{"CNAME beside an AAAA refused", []*dnsv1.Record{{Name: "c", Type: "AAAA", Content: "2001:db8::1"}},
			&dnsv1.Record{Name: "c", Type: "CNAME", Content: "a.example.net"}, "record.name", "CNAME"},
		{"MX beside a CNAME below the apex refused", []*dnsv1.Record{{Name: "c", Type: "CNAME", Content: "a.example.net"}},
			&dnsv1.Record{Name: "c", Type: "MX", Content: "mx.example.net", Priority: 10}, "record.name", "CNAME"},
		{"TXT at the apex beside a CNAME accepted", []*dnsv1.Record{{Name: "@", Type: "CNAME", Content: "a.example.net"}},
			&dnsv1.Record{Name: "@", Type: "TXT", Content: "v=spf1 -all"}, "", ""},

		// NS blocks names at and below it ("Existing NS records block new
		// record creation", code 81056).
		{"A at a delegated name refused with the documented error", []*dnsv1.Record{{Name: "blog", Type: "NS", Content: "ns1.other.net"}},
			&dnsv1.Record{Name: "blog", Type: "A", Content: "192.0.2.1"}, "record.name", "NS records with that host already exist"},
		{"CNAME below a delegation refused", []*dnsv1.Record{{Name: "blog", Type: "NS", Content: "ns1.blog.example.com"}},
			&dnsv1.Record{Name: "ns1.blog", Type: "CNAME", Content: "a.example.net"}, "record.name", "NS records with that host already exist"},
		{"MX below a delegation accepted (occluded, not an address)", []*dnsv1.Record{{Name: "blog", Type: "NS", Content: "ns1.other.net"}},
			&dnsv1.Record{Name: "blog", Type: "MX", Content: "mx.example.net", Priority: 10}, "", ""},
		{"NS above a CNAME refused", []*dnsv1.Record{{Name: "x.blog", Type: "CNAME", Content: "a.example.net"}},
			&dnsv1.Record{Name: "blog", Type: "NS", Content: "ns1.other.net"}, "record.name", "cannot add NS records"},

		// In-bailiwick glue ("Delegate subdomains": "The A records for the
		// subdomain are only required as glue records for nameservers that
		// are located in the subdomain ... being delegated").
		{"glue A for the delegation's nameserver accepted", []*dnsv1.Record{{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"}},
			&dnsv1.Record{Name: "ns1.internal", Type: "A", Content: "192.0.2.53"}, "", ""},
		{"glue AAAA for the delegation's nameserver accepted", []*dnsv1.Record{{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"}},
			&dnsv1.Record{Name: "ns1.internal", Type: "AAAA", Content: "2001:db8::53"}, "", ""},
		{"glue at the delegated name itself accepted", []*dnsv1.Record{{Name: "internal", Type: "NS", Content: "internal.example.com"}},
			&dnsv1.Record{Name: "internal", Type: "A", Content: "192.0.2.53"}, "", ""},
		{"glue for the second of several nameservers accepted", []*dnsv1.Record{
			{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"}, {Name: "internal", Type: "NS", Content: "ns2.internal.example.com"}},
			&dnsv1.Record{Name: "ns2.internal", Type: "A", Content: "192.0.2.54"}, "", ""},
		{"address below a delegation that is not a nameserver refused", []*dnsv1.Record{{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"}},
			&dnsv1.Record{Name: "www.internal", Type: "A", Content: "192.0.2.80"}, "record.name", "NS records with that host already exist"},
		{"proxied glue refused", []*dnsv1.Record{{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"}},
			&dnsv1.Record{Name: "ns1.internal", Type: "A", Content: "203.0.113.53", Proxied: true}, "record.proxied", "glue"},
		{"glue of the topmost delegation decides", []*dnsv1.Record{
			{Name: "a", Type: "NS", Content: "ns.a.example.com"}, {Name: "b.a", Type: "NS", Content: "ns.b.a.example.com"}},
			&dnsv1.Record{Name: "ns.b.a", Type: "A", Content: "192.0.2.55"}, "record.name", "delegated by NS records at a.example.com."},
		{"NS added over existing glue accepted", []*dnsv1.Record{{Name: "ns1.internal", Type: "A", Content: "192.0.2.53"}},
			&dnsv1.Record{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"}, "", ""},
		{"NS added over an address that is not its nameserver refused", []*dnsv1.Record{{Name: "www.internal", Type: "A", Content: "192.0.2.80"}},
			&dnsv1.Record{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"}, "record.name", "not DNS-only glue"},
		{"NS added over a proxied address refused", []*dnsv1.Record{{Name: "ns1.internal", Type: "A", Content: "203.0.113.53", Proxied: true}},
			&dnsv1.Record{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"}, "record.name", "not DNS-only glue"},
		{"second NS beside glue of the first accepted", []*dnsv1.Record{
			{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"}, {Name: "ns1.internal", Type: "A", Content: "192.0.2.53"}},
			&dnsv1.Record{Name: "internal", Type: "NS", Content: "ns.other.net"}, "", ""},

		// TXT lengths ("DNS record types", TXT): 255 per string is the
		// wire format (long text is split), 2,048 per record, 8,192 per
		// name.
		{"TXT of 2048 characters accepted", nil,
			&dnsv1.Record{Name: "t", Type: "TXT", Content: strings.Repeat("x", 2048)}, "", ""},
		{"TXT of 2049 characters refused", nil,
			&dnsv1.Record{Name: "t", Type: "TXT", Content: strings.Repeat("x", 2049)}, "record.content", "2048"},
		{"TXT string over 255 characters is split, not refused", nil,
			&dnsv1.Record{Name: "t", Type: "TXT", Content: `"` + strings.Repeat("x", 300) + `"`}, "", ""},
		{"TXT sum at a name over 8192 refused", []*dnsv1.Record{
			{Name: "t", Type: "TXT", Content: strings.Repeat("a", 2048)}, {Name: "t", Type: "TXT", Content: strings.Repeat("b", 2048)},
			{Name: "t", Type: "TXT", Content: strings.Repeat("c", 2048)}, {Name: "t", Type: "TXT", Content: strings.Repeat("d", 2000)}},
			&dnsv1.Record{Name: "t", Type: "TXT", Content: strings.Repeat("e", 193)}, "record.content", "8192"},
		{"TXT at another name does not count", []*dnsv1.Record{
			{Name: "t", Type: "TXT", Content: strings.Repeat("a", 2048)}, {Name: "t", Type: "TXT", Content: strings.Repeat("b", 2048)},
			{Name: "t", Type: "TXT", Content: strings.Repeat("c", 2048)}, {Name: "t", Type: "TXT", Content: strings.Repeat("d", 2048)}},
			&dnsv1.Record{Name: "u", Type: "TXT", Content: "e"}, "", ""},

		// Mail and service targets must be DNS-only ("Troubleshooting email
		// issues", "Set up email records").
		{"MX to a proxied-only name refused", []*dnsv1.Record{{Name: "mail", Type: "A", Content: "203.0.113.25", Proxied: true}},
			&dnsv1.Record{Name: "@", Type: "MX", Content: "mail.example.com", Priority: 10}, "record.content", "DNS-only"},
		{"MX to a proxied CNAME refused", []*dnsv1.Record{{Name: "mail", Type: "CNAME", Content: "origin.example.net", Proxied: true}},
			&dnsv1.Record{Name: "@", Type: "MX", Content: "mail.example.com", Priority: 10}, "record.content", "DNS-only"},
		{"MX to a DNS-only name accepted", []*dnsv1.Record{{Name: "mail", Type: "A", Content: "203.0.113.25"}},
			&dnsv1.Record{Name: "@", Type: "MX", Content: "mail.example.com", Priority: 10}, "", ""},
		{"MX to a name with a DNS-only address beside a proxied one accepted", []*dnsv1.Record{
			{Name: "mail", Type: "A", Content: "203.0.113.25", Proxied: true}, {Name: "mail", Type: "AAAA", Content: "2001:db8::25"}},
			&dnsv1.Record{Name: "@", Type: "MX", Content: "mail.example.com", Priority: 10}, "", ""},
		{"MX to a name without records yet accepted", nil,
			&dnsv1.Record{Name: "@", Type: "MX", Content: "mail.example.com", Priority: 10}, "", ""},
		{"MX outside the zone accepted", nil,
			&dnsv1.Record{Name: "@", Type: "MX", Content: "mx.example.net", Priority: 10}, "", ""},
		{"SRV to a proxied-only name refused", []*dnsv1.Record{{Name: "sip", Type: "A", Content: "203.0.113.60", Proxied: true}},
			srv("sip.example.com"), "record.data.srv.target", "DNS-only"},
		{"SRV to a DNS-only name accepted", []*dnsv1.Record{{Name: "sip", Type: "A", Content: "203.0.113.60"}},
			srv("sip.example.com"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, dnsv1.Plan_PLAN_FREE)
			for _, r := range tt.existing {
				e.create(t, r)
			}
			_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(), Record: tt.in})
			if tt.field == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			wantInvalid(t, err, tt.field)
			if msg := grpcstatus.Convert(err).Message(); !strings.Contains(msg, tt.message) {
				t.Errorf("message %q does not say %q", msg, tt.message)
			}
			if n := len(e.all(t)); n != len(tt.existing) {
				t.Fatalf("%d records after a rejected create, want %d", n, len(tt.existing))
			}
		})
	}
}

// Changing a delegation's nameserver away from a name that has glue would
// leave the glue serving nothing: refused, naming the glue.
func TestNSUpdateLeavingGlueBehindIsRefused(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	ns := e.create(t, &dnsv1.Record{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"})
	e.create(t, &dnsv1.Record{Name: "ns1.internal", Type: "A", Content: "192.0.2.53"})
	_, err := e.client.PatchRecord(ctx(t), &dnsv1.PatchRecordRequest{
		ZoneId: e.zone.GetId(), RecordId: ns.GetId(),
		Record:     &dnsv1.Record{Content: "ns.other.net"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"content"}},
	})
	wantInvalid(t, err, "record.name")
	if msg := grpcstatus.Convert(err).Message(); !strings.Contains(msg, "ns1.internal.example.com.") {
		t.Errorf("message %q does not name the glue", msg)
	}
}

// Glue cannot be turned into an ordinary, proxied record either.
func TestGlueCannotBePatchedToProxied(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	e.create(t, &dnsv1.Record{Name: "internal", Type: "NS", Content: "ns1.internal.example.com"})
	g := e.create(t, &dnsv1.Record{Name: "ns1.internal", Type: "A", Content: "203.0.113.53"})
	_, err := e.client.PatchRecord(ctx(t), &dnsv1.PatchRecordRequest{
		ZoneId: e.zone.GetId(), RecordId: g.GetId(),
		Record:     &dnsv1.Record{Proxied: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"proxied"}},
	})
	wantInvalid(t, err, "record.proxied")
}
