package settings

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

func TestParseRNAMEEscapesTheMailbox(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		// The documents' table.
		{"john@example.com", "john.example.com.", true},
		{"john.doe@example.com", `john\.doe.example.com.`, true},
		// Already an RNAME.
		{"john.example.com", "john.example.com.", true},
		{`john\.doe.example.com.`, `john\.doe.example.com.`, true},
		{"hostmaster@Example.COM", "hostmaster.example.com.", true},
		{"dns+ops@example.com", "dns+ops.example.com.", true},
		{"john", "", false},
		{"@example.com", "", false},
		{"john..doe@example.com", "", false},
		{".john@example.com", "", false},
		{"jo hn@example.com", "", false},
		{"john@localhost", "", false},
		{"john@exa_mple..com", "", false},
		{`jo\hn@example.com`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRNAME(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseRNAME(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestRecordQuotaOverrideIsTheOperators(t *testing.T) {
	f := newFixture(t)
	req := &dnsv1.UpdateZoneSettingsRequest{ZoneId: f.entZone, Settings: &dnsv1.ZoneSettings{MaxRecordsOverride: 10000}, UpdateMask: mask("max_records_override")}
	tenant := caller.With(ctxT(t), &caller.Caller{TokenID: "t1", AccountID: "acct1",
		Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_ZONE_DNS_SETTINGS_WRITE}})
	if _, err := f.svc.UpdateZoneSettings(tenant, req); grpcstatus.Code(err) != codes.PermissionDenied {
		t.Fatalf("tenant setting the override: %v, want PermissionDenied", err)
	}
	operator := caller.With(ctxT(t), &caller.Caller{TokenID: caller.OperatorID, Operator: true})
	if _, err := f.svc.UpdateZoneSettings(operator, req); err != nil {
		t.Fatalf("operator setting the override: %v", err)
	}
	// The tenant may still send every field (empty mask) as long as the
	// override stays what the operator set.
	all := &dnsv1.UpdateZoneSettingsRequest{ZoneId: f.entZone, Settings: &dnsv1.ZoneSettings{NsTtl: 600, MaxRecordsOverride: 10000}}
	if _, err := f.svc.UpdateZoneSettings(tenant, all); err != nil {
		t.Fatalf("tenant update keeping the override: %v", err)
	}
}

func TestAccountZoneDefaults(t *testing.T) {
	f := newFixture(t) // acct1 holds an Enterprise zone
	ctx := ctxT(t)
	got, err := f.c.GetAccountZoneDefaults(ctx, &dnsv1.GetAccountZoneDefaultsRequest{AccountId: "acct1"})
	if err != nil || !proto.Equal(got.GetDefaults(), &dnsv1.AccountZoneDefaults{}) {
		t.Fatalf("defaults before any update = %v, %v", got, err)
	}
	want := &dnsv1.AccountZoneDefaults{
		NameserverMethod: dnsv1.NameserverMethod_NAMESERVER_METHOD_ACCOUNT_CUSTOM, NameserverSet: 2,
		MultiProvider: true, NsTtl: 3600, SoaMname: "ns1.example.net.", SoaRname: `john\.doe.example.com.`,
		SoaRefresh: 7200, SoaRetry: 1200, SoaExpire: 1209600, SoaMinTtl: 300, SoaTtl: 1800,
		FlattenAllCnames: true, SecondaryOverrides: true,
	}
	in := proto.Clone(want).(*dnsv1.AccountZoneDefaults)
	in.SoaRname = "john.doe@example.com"
	in.SoaMname = "NS1.example.net"
	upd, err := f.c.UpdateAccountZoneDefaults(ctx, &dnsv1.UpdateAccountZoneDefaultsRequest{AccountId: "acct1", Defaults: in})
	if err != nil || !proto.Equal(upd.GetDefaults(), want) {
		t.Fatalf("update = %v, %v; want %v", upd.GetDefaults(), err, want)
	}
	stored, err := f.st.ZoneDefaultsFor(ctx, "acct1")
	if err != nil || !proto.Equal(stored, want) {
		t.Fatalf("ZoneDefaultsFor = %v, %v; want %v", stored, err, want)
	}
	// Existing zones are untouched.
	zs, err := f.c.GetZoneSettings(ctx, &dnsv1.GetZoneSettingsRequest{ZoneId: f.entZone})
	if err != nil || !proto.Equal(zs.GetSettings(), &dnsv1.ZoneSettings{}) {
		t.Fatalf("an existing zone changed with the defaults: %v, %v", zs.GetSettings(), err)
	}

	tests := []struct {
		name  string
		d     *dnsv1.AccountZoneDefaults
		mask  []string
		field string
	}{
		{"unknown path", &dnsv1.AccountZoneDefaults{}, []string{"soa_serial"}, "update_mask"},
		{"unknown method", &dnsv1.AccountZoneDefaults{NameserverMethod: 42}, []string{"nameserver_method"}, "defaults.nameserver_method"},
		{"set above 5", &dnsv1.AccountZoneDefaults{NameserverSet: 6}, []string{"nameserver_set"}, "defaults.nameserver_set"},
		{"set without a custom method", &dnsv1.AccountZoneDefaults{NameserverMethod: dnsv1.NameserverMethod_NAMESERVER_METHOD_ADVANCED}, []string{"nameserver_method"}, "defaults.nameserver_set"},
		{"ns ttl too low", &dnsv1.AccountZoneDefaults{NsTtl: 29}, []string{"ns_ttl"}, "defaults.ns_ttl"},
		{"soa ttl too high", &dnsv1.AccountZoneDefaults{SoaTtl: 7200}, []string{"soa_ttl"}, "defaults.soa_ttl"},
		{"soa retry above refresh", &dnsv1.AccountZoneDefaults{SoaRefresh: 1000, SoaRetry: 1100}, []string{"soa_refresh", "soa_retry"}, "defaults.soa_retry"},
		{"soa refresh below the retry in force", &dnsv1.AccountZoneDefaults{SoaRefresh: 1000}, []string{"soa_refresh"}, "defaults.soa_refresh"},
		{"soa expire below refresh", &dnsv1.AccountZoneDefaults{SoaRefresh: 86400, SoaRetry: 600, SoaExpire: 86400 - 1}, []string{"soa_refresh", "soa_retry", "soa_expire"}, "defaults.soa_expire"},
		{"bad rname", &dnsv1.AccountZoneDefaults{SoaRname: "nobody"}, []string{"soa_rname"}, "defaults.soa_rname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.c.UpdateAccountZoneDefaults(ctx, &dnsv1.UpdateAccountZoneDefaultsRequest{AccountId: "acct1", Defaults: tt.d, UpdateMask: mask(tt.mask...)})
			if code, field := servicetest.Violation(err); code != codes.InvalidArgument || field != tt.field {
				t.Fatalf("err = %v (field %q), want InvalidArgument on %q", err, field, tt.field)
			}
		})
	}
	after, _ := f.st.ZoneDefaultsFor(ctx, "acct1")
	if !proto.Equal(after, want) {
		t.Fatalf("refused updates changed the defaults: %v", after)
	}
}

func TestZoneDefaultsNeedAnEnterpriseAccount(t *testing.T) {
	f := newFixture(t)
	if _, err := f.st.CreateZone(context.Background(), "small", "small.example.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "small1", AccountId: "small", Name: "small.example.", Plan: dnsv1.Plan_PLAN_BUSINESS}, nil
	}); err != nil {
		t.Fatal(err)
	}
	as := func(account string, operator bool) context.Context {
		c := &caller.Caller{TokenID: "t-" + account, AccountID: account,
			Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_ACCOUNT_DNS_SETTINGS_WRITE}}
		if operator {
			c = &caller.Caller{TokenID: caller.OperatorID, Operator: true}
		}
		return caller.With(ctxT(t), c)
	}
	set := &dnsv1.UpdateAccountZoneDefaultsRequest{AccountId: "small", Defaults: &dnsv1.AccountZoneDefaults{NsTtl: 600}, UpdateMask: mask("ns_ttl")}
	_, err := f.svc.UpdateAccountZoneDefaults(as("small", false), set)
	if code, field := servicetest.Violation(err); code != codes.InvalidArgument || field != "defaults.ns_ttl" {
		t.Fatalf("business account: %v (field %q), want InvalidArgument on defaults.ns_ttl", err, field)
	}
	reset := &dnsv1.UpdateAccountZoneDefaultsRequest{AccountId: "small", Defaults: &dnsv1.AccountZoneDefaults{
		NameserverMethod: dnsv1.NameserverMethod_NAMESERVER_METHOD_STANDARD}}
	if _, err := f.svc.UpdateAccountZoneDefaults(as("small", false), reset); err != nil {
		t.Fatalf("platform defaults on a business account: %v", err)
	}
	if _, err := f.svc.UpdateAccountZoneDefaults(as("small", true), set); err != nil {
		t.Fatalf("operator: %v", err)
	}
	set.AccountId = "acct1"
	if _, err := f.svc.UpdateAccountZoneDefaults(as("acct1", false), set); err != nil {
		t.Fatalf("account with an Enterprise zone: %v", err)
	}
}

func TestInitialZoneSettingsFollowSetupAndPlan(t *testing.T) {
	d := &dnsv1.AccountZoneDefaults{
		NameserverMethod: dnsv1.NameserverMethod_NAMESERVER_METHOD_STANDARD_RANDOMIZED,
		MultiProvider:    true, NsTtl: 3600, SoaMname: "ns1.example.net.", SoaRname: "hostmaster.example.net.",
		SoaRefresh: 7200, SoaRetry: 1200, SoaExpire: 1209600, SoaMinTtl: 300, SoaTtl: 1800,
		FlattenAllCnames: true, SecondaryOverrides: true,
	}
	full, partial, secondary := dnsv1.ZoneType_ZONE_TYPE_FULL, dnsv1.ZoneType_ZONE_TYPE_PARTIAL, dnsv1.ZoneType_ZONE_TYPE_SECONDARY
	ent, free := dnsv1.Plan_PLAN_ENTERPRISE, dnsv1.Plan_PLAN_FREE
	tests := []struct {
		name string
		d    *dnsv1.AccountZoneDefaults
		typ  dnsv1.ZoneType
		plan dnsv1.Plan
		want *dnsv1.ZoneSettings
	}{
		{"no defaults", nil, full, ent, &dnsv1.ZoneSettings{}},
		{"full enterprise zone takes everything of a primary", d, full, ent, &dnsv1.ZoneSettings{
			MultiProvider: true, NsTtl: 3600, SoaMname: "ns1.example.net.", SoaRname: "hostmaster.example.net.",
			SoaRefresh: 7200, SoaRetry: 1200, SoaExpire: 1209600, SoaMinTtl: 300, SoaTtl: 1800, FlattenAllCnames: true}},
		{"full free zone: no SOA, no flatten-all", d, full, free, &dnsv1.ZoneSettings{MultiProvider: true, NsTtl: 3600}},
		{"partial zone: flatten-all only", d, partial, ent, &dnsv1.ZoneSettings{FlattenAllCnames: true}},
		{"secondary zone: override only", d, secondary, ent, &dnsv1.ZoneSettings{SecondaryOverrides: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.InitialZoneSettings(tt.d, tt.typ, tt.plan); !proto.Equal(got, tt.want) {
				t.Fatalf("InitialZoneSettings = %v, want %v", got, tt.want)
			}
		})
	}
}
