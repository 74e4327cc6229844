package settings

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

type fixture struct {
	c         dnsv1.SettingsServiceClient
	svc       *Service
	st        *store.Store
	freeZone  string
	proZone   string
	entZone   string
	secondary string
}

// newFixture serves the settings service over real gRPC on 127.0.0.1,
// backed by real etcd, with one Free and one Pro zone.
func newFixture(t *testing.T) fixture {
	t.Helper()
	st := store.New(etcdCli, etcdtest.Prefix(t), zaptest.NewLogger(t))
	mk := func(id, name string, plan dnsv1.Plan, typ dnsv1.ZoneType) string {
		_, err := st.CreateZone(context.Background(), "acct1", name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
			return &dnsv1.Zone{Id: id, AccountId: "acct1", Name: name, Plan: plan, Type: typ}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	full := dnsv1.ZoneType_ZONE_TYPE_FULL
	f := fixture{st: st,
		freeZone:  mk("free1", "free.example.", dnsv1.Plan_PLAN_FREE, full),
		proZone:   mk("pro1", "pro.example.", dnsv1.Plan_PLAN_PRO, full),
		entZone:   mk("ent1", "ent.example.", dnsv1.Plan_PLAN_ENTERPRISE, full),
		secondary: mk("sec1", "sec.example.", dnsv1.Plan_PLAN_ENTERPRISE, dnsv1.ZoneType_ZONE_TYPE_SECONDARY),
	}
	f.svc = New(st, zaptest.NewLogger(t))
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterSettingsServiceServer(gs, f.svc)
	})
	f.c = dnsv1.NewSettingsServiceClient(conn)
	return f
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func TestAccountSettingsRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	got, err := f.c.GetAccountSettings(ctx, &dnsv1.GetAccountSettingsRequest{AccountId: "acct9"})
	if err != nil || got.GetSettings().GetEnforceDnsOnly() {
		t.Fatalf("default = %v, %v", got, err)
	}
	upd, err := f.c.UpdateAccountSettings(ctx, &dnsv1.UpdateAccountSettingsRequest{
		AccountId: "acct9", Settings: &dnsv1.AccountSettings{EnforceDnsOnly: true}})
	if err != nil || !upd.GetSettings().GetEnforceDnsOnly() {
		t.Fatalf("update = %v, %v", upd, err)
	}
	// An unknown path rejects the whole update.
	_, err = f.c.UpdateAccountSettings(ctx, &dnsv1.UpdateAccountSettingsRequest{
		AccountId: "acct9", Settings: &dnsv1.AccountSettings{}, UpdateMask: mask("nope")})
	if code, field := servicetest.Violation(err); code != codes.InvalidArgument || field != "update_mask" {
		t.Fatalf("unknown path err = %v", err)
	}
	got, _ = f.c.GetAccountSettings(ctx, &dnsv1.GetAccountSettingsRequest{AccountId: "acct9"})
	if !got.GetSettings().GetEnforceDnsOnly() {
		t.Fatal("rejected update changed the setting")
	}
	if _, err := f.c.GetAccountSettings(ctx, &dnsv1.GetAccountSettingsRequest{}); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("missing account err = %v", err)
	}
}

func TestUpdateZoneSettingsValidates(t *testing.T) {
	f := newFixture(t)
	free := func(f fixture) string { return f.freeZone }
	pro := func(f fixture) string { return f.proZone }
	ent := func(f fixture) string { return f.entZone }
	sec := func(f fixture) string { return f.secondary }
	tests := []struct {
		name  string
		zone  func(fixture) string
		s     *dnsv1.ZoneSettings
		mask  *fieldmaskpb.FieldMask
		code  codes.Code
		field string
	}{
		{"flatten all on free plan", func(f fixture) string { return f.freeZone }, &dnsv1.ZoneSettings{FlattenAllCnames: true}, nil, codes.InvalidArgument, "settings.flatten_all_cnames"},
		{"flatten all on pro plan", func(f fixture) string { return f.proZone }, &dnsv1.ZoneSettings{FlattenAllCnames: true}, nil, codes.OK, ""},
		{"ns ttl too low", func(f fixture) string { return f.proZone }, &dnsv1.ZoneSettings{NsTtl: 29}, mask("ns_ttl"), codes.InvalidArgument, "settings.ns_ttl"},
		{"ns ttl too high", func(f fixture) string { return f.proZone }, &dnsv1.ZoneSettings{NsTtl: 86401}, mask("ns_ttl"), codes.InvalidArgument, "settings.ns_ttl"},
		{"ns ttl in range", func(f fixture) string { return f.proZone }, &dnsv1.ZoneSettings{NsTtl: 30}, mask("ns_ttl"), codes.OK, ""},
		{"soa retry above max", ent, &dnsv1.ZoneSettings{SoaRetry: 7200}, mask("soa_retry"), codes.InvalidArgument, "settings.soa_retry"},
		{"soa retry above refresh", ent, &dnsv1.ZoneSettings{SoaRefresh: 900, SoaRetry: 1000}, mask("soa_refresh", "soa_retry"), codes.InvalidArgument, "settings.soa_retry"},
		{"soa refresh below the default retry", ent, &dnsv1.ZoneSettings{SoaRefresh: 2000}, mask("soa_refresh"), codes.InvalidArgument, "settings.soa_refresh"},
		{"soa retry equal to refresh", ent, &dnsv1.ZoneSettings{SoaRefresh: 900, SoaRetry: 900, SoaExpire: 86400}, mask("soa_refresh", "soa_retry", "soa_expire"), codes.OK, ""},
		{"soa refresh below min", ent, &dnsv1.ZoneSettings{SoaRefresh: 599}, mask("soa_refresh"), codes.InvalidArgument, "settings.soa_refresh"},
		{"soa refresh above max", ent, &dnsv1.ZoneSettings{SoaRefresh: 86401}, mask("soa_refresh"), codes.InvalidArgument, "settings.soa_refresh"},
		{"soa expire below min", ent, &dnsv1.ZoneSettings{SoaExpire: 100}, mask("soa_expire"), codes.InvalidArgument, "settings.soa_expire"},
		{"soa expire above max", ent, &dnsv1.ZoneSettings{SoaExpire: 2419201}, mask("soa_expire"), codes.InvalidArgument, "settings.soa_expire"},
		{"soa min ttl below min", ent, &dnsv1.ZoneSettings{SoaMinTtl: 10}, mask("soa_min_ttl"), codes.InvalidArgument, "settings.soa_min_ttl"},
		{"soa min ttl above max", ent, &dnsv1.ZoneSettings{SoaMinTtl: 86401}, mask("soa_min_ttl"), codes.InvalidArgument, "settings.soa_min_ttl"},
		{"soa ttl below 1800", ent, &dnsv1.ZoneSettings{SoaTtl: 1799}, mask("soa_ttl"), codes.InvalidArgument, "settings.soa_ttl"},
		{"soa ttl above 3600", ent, &dnsv1.ZoneSettings{SoaTtl: 3601}, mask("soa_ttl"), codes.InvalidArgument, "settings.soa_ttl"},
		{"soa ttl 1800", ent, &dnsv1.ZoneSettings{SoaTtl: 1800}, mask("soa_ttl"), codes.OK, ""},
		{"soa mname not a host name", ent, &dnsv1.ZoneSettings{SoaMname: "ns 1.example.net"}, mask("soa_mname"), codes.InvalidArgument, "settings.soa_mname"},
		{"soa mname single label", ent, &dnsv1.ZoneSettings{SoaMname: "localhost"}, mask("soa_mname"), codes.InvalidArgument, "settings.soa_mname"},
		{"soa rname without a domain", ent, &dnsv1.ZoneSettings{SoaRname: "john"}, mask("soa_rname"), codes.InvalidArgument, "settings.soa_rname"},
		{"soa rname e-mail", ent, &dnsv1.ZoneSettings{SoaRname: "john.doe@example.com"}, mask("soa_rname"), codes.OK, ""},
		{"soa edit on pro", pro, &dnsv1.ZoneSettings{SoaRefresh: 7200}, mask("soa_refresh"), codes.InvalidArgument, "settings.soa_refresh"},
		{"soa ttl edit on business-less free", free, &dnsv1.ZoneSettings{SoaTtl: 1800}, mask("soa_ttl"), codes.InvalidArgument, "settings.soa_ttl"},
		{"soa reset to default on pro", pro, &dnsv1.ZoneSettings{}, mask("soa_refresh", "soa_mname"), codes.OK, ""},
		{"record quota override below 3500", ent, &dnsv1.ZoneSettings{MaxRecordsOverride: 100}, mask("max_records_override"), codes.InvalidArgument, "settings.max_records_override"},
		{"record quota override on pro", pro, &dnsv1.ZoneSettings{MaxRecordsOverride: 5000}, mask("max_records_override"), codes.InvalidArgument, "settings.max_records_override"},
		{"record quota override on enterprise", ent, &dnsv1.ZoneSettings{MaxRecordsOverride: 5000}, mask("max_records_override"), codes.OK, ""},
		{"multi-provider on a secondary zone", sec, &dnsv1.ZoneSettings{MultiProvider: true}, mask("multi_provider"), codes.InvalidArgument, "settings.multi_provider"},
		{"multi-provider on a full zone", free, &dnsv1.ZoneSettings{MultiProvider: true}, mask("multi_provider"), codes.OK, ""},
		{"secondary override on a full zone", ent, &dnsv1.ZoneSettings{SecondaryOverrides: true}, mask("secondary_overrides"), codes.InvalidArgument, "settings.secondary_overrides"},
		{"secondary override on a secondary zone", sec, &dnsv1.ZoneSettings{SecondaryOverrides: true}, mask("secondary_overrides"), codes.OK, ""},
		{"unknown mask path", func(f fixture) string { return f.proZone }, &dnsv1.ZoneSettings{}, mask("soa_serial"), codes.InvalidArgument, "update_mask"},
		{"missing zone", func(fixture) string { return "nozone" }, &dnsv1.ZoneSettings{}, nil, codes.NotFound, ""},
		{"bad zone id", func(fixture) string { return "a/b" }, &dnsv1.ZoneSettings{}, nil, codes.InvalidArgument, "zone_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.c.UpdateZoneSettings(ctxT(t), &dnsv1.UpdateZoneSettingsRequest{ZoneId: tt.zone(f), Settings: tt.s, UpdateMask: tt.mask})
			code, field := servicetest.Violation(err)
			if code != tt.code || field != tt.field {
				t.Fatalf("err = %v (field %q), want %v on %q", err, field, tt.code, tt.field)
			}
		})
	}
}

func TestUpdateZoneSettingsAppliesOnlyMaskedFields(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	full := &dnsv1.ZoneSettings{FlattenAllCnames: true, NsTtl: 600, SoaRefresh: 7200, SoaRetry: 1200, SoaExpire: 1209600, SoaMinTtl: 300,
		SoaMname: "ns1.example.net.", SoaRname: `john\.doe.example.com.`, SoaTtl: 1800, MultiProvider: true}
	if _, err := f.c.UpdateZoneSettings(ctx, &dnsv1.UpdateZoneSettingsRequest{ZoneId: f.entZone, Settings: full}); err != nil {
		t.Fatal(err)
	}
	_, err := f.c.UpdateZoneSettings(ctx, &dnsv1.UpdateZoneSettingsRequest{
		ZoneId: f.entZone, Settings: &dnsv1.ZoneSettings{NsTtl: 3600, SoaMinTtl: 999}, UpdateMask: mask("ns_ttl")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.c.GetZoneSettings(ctx, &dnsv1.GetZoneSettingsRequest{ZoneId: f.entZone})
	if err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(full).(*dnsv1.ZoneSettings)
	want.NsTtl = 3600
	if !proto.Equal(got.GetSettings(), want) {
		t.Fatalf("settings = %v, want %v", got.GetSettings(), want)
	}
}
