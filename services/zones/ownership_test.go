package zones

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

// documentedCode returns the ErrorInfo reason and "code" of an error.
func documentedCode(err error) (string, string) {
	for _, d := range grpcstatus.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason(), info.GetMetadata()["code"]
		}
	}
	return "", ""
}

func TestCreateZoneRefusesNamesNobodyMayHold(t *testing.T) {
	c := newClient(t, Options{
		ExtraSuffixes: []string{"test", "example"},
		SOARname:      "hostmaster.contact.example.",
		PartialSuffix: "cdn.partial.example.",
	})
	// The default pool is ns1..ns4.zonegrid.test.
	ent := dnsv1.Plan_PLAN_ENTERPRISE
	tests := []struct {
		name   string
		zone   string
		plan   dnsv1.Plan
		reason string
		code   string
	}{
		{"ICANN public suffix", "co.uk", ent, ReasonPublicSuffix, "1049"},
		{"private-section public suffix", "github.io", ent, ReasonPublicSuffix, "1049"},
		{"public suffix under a wildcard rule", "anything.ck", ent, ReasonPublicSuffix, "1049"},
		{"operator's extra suffix itself", "example.", ent, "", ""}, // one label: refused before the list
		{"TLD not in the list", "bad.psl-example", ent, ReasonUnknownTLD, "1099"},
		{"below a TLD not in the list", "www.bad.zzz", ent, ReasonUnknownTLD, "1099"},
		{"subdomain on the free plan", "www.example.com", dnsv1.Plan_PLAN_FREE, ReasonSubdomain, "1093"},
		{"subdomain on the business plan", "www.example.com", dnsv1.Plan_PLAN_BUSINESS, ReasonSubdomain, "1093"},
		{"subdomain of a private-section domain on pro", "blog.foo.github.io", dnsv1.Plan_PLAN_PRO, ReasonSubdomain, "1093"},
		{"nameserver domain", "zonegrid.test", ent, ReasonReserved, "1097"},
		{"below the nameserver domain", "ns1.zonegrid.test", ent, ReasonReserved, "1097"},
		{"SOA contact domain", "contact.example", ent, ReasonReserved, "1097"},
		{"partial setup suffix", "cdn.partial.example", ent, ReasonReserved, "1097"},
		{"partial setup domain", "partial.example", dnsv1.Plan_PLAN_FREE, ReasonReserved, "1097"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateZone(ctxT(t), &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: tt.zone, Plan: tt.plan})
			code, field := servicetest.Violation(err)
			if code != codes.InvalidArgument || field != "name" {
				t.Fatalf("err = %v (field %q), want InvalidArgument on name", err, field)
			}
			if reason, doc := documentedCode(err); reason != tt.reason || doc != tt.code {
				t.Fatalf("ErrorInfo reason %q code %q, want %q %q (%v)", reason, doc, tt.reason, tt.code, err)
			}
		})
	}
	resp, err := c.ListZones(ctxT(t), &dnsv1.ListZonesRequest{})
	if err != nil || len(resp.GetZones()) != 0 {
		t.Fatalf("refused creates left zones: %v %v", resp, err)
	}
}

func TestCreateZoneAcceptsRegistrableDomainsAndSubdomainSetups(t *testing.T) {
	c := newClient(t, Options{ExtraSuffixes: []string{"test"}})
	tests := []struct {
		name    string
		account string
		zone    string
		plan    dnsv1.Plan
	}{
		{"registrable under an ICANN suffix", "acct1", "bank.co.uk", dnsv1.Plan_PLAN_FREE},
		{"registrable under a private-section suffix", "acct1", "foo.github.io", dnsv1.Plan_PLAN_FREE},
		{"registrable under an extra suffix", "acct1", "bank.test", dnsv1.Plan_PLAN_FREE},
		{"another domain of the platform's TLD", "acct1", "notzonegrid.test", dnsv1.Plan_PLAN_FREE},
		{"subdomain setup in the parent's account", "acct1", "docs.bank.test", dnsv1.Plan_PLAN_ENTERPRISE},
		// Allowed ("It can be the same account where the parent zone exists
		// or a different one"); the builder serves it only once the parent
		// delegates to it.
		{"subdomain setup in another account", "acct2", "www.bank.test", dnsv1.Plan_PLAN_ENTERPRISE},
		{"subdomain setup with no parent zone", "acct3", "blog.other.co.uk", dnsv1.Plan_PLAN_ENTERPRISE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.CreateZone(ctxT(t), &dnsv1.CreateZoneRequest{AccountId: tt.account, Name: tt.zone, Plan: tt.plan}); err != nil {
				t.Fatalf("create %s on %s: %v", tt.zone, tt.plan, err)
			}
		})
	}
}

// In immediate mode a name held ACTIVE by one account cannot be taken by
// another: its zone stays PENDING and ActivationCheck does not activate it.
// Only the delegation check (the documented activation path) moves a name.
func TestImmediateModeCannotTakeAnActiveName(t *testing.T) {
	c := newClient(t, Options{})
	ctx := ctxT(t)
	owner, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "owner", Name: "bank.example"})
	if err != nil {
		t.Fatal(err)
	}
	taker, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "taker", Name: "bank.example", Plan: dnsv1.Plan_PLAN_ENTERPRISE})
	if err != nil {
		t.Fatal(err)
	}
	if got := taker.GetZone().GetStatus(); got != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
		t.Fatalf("second account's zone is %s, want PENDING", got)
	}
	chk, err := c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: taker.GetZone().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if chk.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING || chk.GetReason() == "" {
		t.Fatalf("activation check = %v, want PENDING with a reason", chk)
	}
	got, err := c.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: owner.GetZone().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("owner's zone is %s after the check, want ACTIVE", got.GetZone().GetStatus())
	}
}

// The documents' "available setups" table: a Partial child of a Full or
// Secondary parent is not available; a Full or Secondary child is, and a
// Partial child of a Partial parent too.
func TestPartialZoneBelowAFullZoneIsRefused(t *testing.T) {
	c := newClient(t, Options{})
	ctx := ctxT(t)
	for _, p := range []struct {
		name string
		typ  dnsv1.ZoneType
	}{{"full.example", dnsv1.ZoneType_ZONE_TYPE_FULL}, {"partial.example", dnsv1.ZoneType_ZONE_TYPE_PARTIAL}} {
		if _, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "parent", Name: p.name, Type: p.typ, Plan: dnsv1.Plan_PLAN_BUSINESS}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		typ       dnsv1.ZoneType
		wantField string
	}{
		{"www.full.example", dnsv1.ZoneType_ZONE_TYPE_PARTIAL, "type"},
		{"app.full.example", dnsv1.ZoneType_ZONE_TYPE_FULL, ""},
		{"sec.full.example", dnsv1.ZoneType_ZONE_TYPE_SECONDARY, ""},
		{"www.partial.example", dnsv1.ZoneType_ZONE_TYPE_PARTIAL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.typ.String(), func(t *testing.T) {
			_, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "child", Name: tt.name, Type: tt.typ, Plan: dnsv1.Plan_PLAN_ENTERPRISE})
			if _, field := servicetest.Violation(err); field != tt.wantField || (tt.wantField == "") != (err == nil) {
				t.Fatalf("err %v (field %q), want field %q", err, field, tt.wantField)
			}
		})
	}
}

func TestReverseZonesOfWholePrefixesOnAnyPlan(t *testing.T) {
	c := newClient(t, Options{})
	ctx := ctxT(t)
	tests := []struct {
		name string
		ok   bool
	}{
		{"100.51.198.in-addr.arpa", true},          // a /24
		{"51.198.in-addr.arpa", true},              // a /16
		{"8.b.d.0.1.0.0.2.ip6.arpa", true},         // a /32
		{"0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", true}, // a /48
		{"x.51.198.in-addr.arpa", false},           // not an octet
		{"256.51.198.in-addr.arpa", false},         // out of range
		{"010.51.198.in-addr.arpa", false},         // leading zero
		{"1.100.51.198.in-addr.arpa", false},       // a single address
		{"ab.8.b.d.0.1.0.0.2.ip6.arpa", false},     // not a nibble
		{"in-addr.arpa", false},                    // the suffix itself
	}
	for _, tt := range tests {
		_, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "isp", Name: tt.name, Plan: dnsv1.Plan_PLAN_FREE})
		if (err == nil) != tt.ok {
			t.Errorf("%s on free: %v, want ok=%t", tt.name, err, tt.ok)
		}
		if err != nil && grpcstatus.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: code %v, want InvalidArgument", tt.name, grpcstatus.Code(err))
		}
	}
}
