package tenants

import (
	"context"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/zones"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

func TestTenantCustomNameserversServeEveryAccountOfTheTenant(t *testing.T) {
	log := zaptest.NewLogger(t)
	st := store.New(etcdCli, etcdtest.Prefix(t), log)
	addrs, err := nameservers.NewAddresses([]string{"203.0.113.53"}, []string{"2001:db8::53"})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, addrs, log)
	zs, err := zones.New(st, zones.Options{ExtraSuffixes: []string{"example"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, n := range []string{"ns1.partner.example", "ns2.partner.example"} {
		if _, err := svc.CreateTenantNameserver(ctx, &dnsv1.CreateTenantNameserverRequest{TenantId: "partner", NsName: n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.CreateTenantNameserver(ctx, &dnsv1.CreateTenantNameserverRequest{TenantId: "partner", NsName: "ns1.partner.example", NsSet: 2}); grpcstatus.Code(err) != codes.AlreadyExists {
		t.Fatalf("a name in two sets: %v, want AlreadyExists", err)
	}
	if _, err := svc.SetAccountTenant(ctx, &dnsv1.SetAccountTenantRequest{AccountId: "shop", TenantId: "bad id"}); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("a bad tenant id: %v, want InvalidArgument", err)
	}
	if _, err := svc.SetAccountTenant(ctx, &dnsv1.SetAccountTenantRequest{AccountId: "shop", TenantId: "partner"}); err != nil {
		t.Fatal(err)
	}
	got, err := svc.GetAccountTenant(ctx, &dnsv1.GetAccountTenantRequest{AccountId: "shop"})
	if err != nil || got.GetTenantId() != "partner" || len(got.GetNameservers()) != 2 {
		t.Fatalf("the account's tenant: %v, %v", got, err)
	}
	want := []string{"ns1.partner.example.", "ns2.partner.example."}

	// An existing zone moves onto the tenant's set 1.
	old, err := zs.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "shop", Name: "old.example"})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := zs.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: old.GetZone().GetId(), AccountNameservers: &dnsv1.AccountNameservers{NsSet: 1, Tenant: true}})
	if err != nil || !slices.Equal(nameservers.Served(moved.GetZone()), want) {
		t.Fatalf("an existing zone on the tenant's set: %v, %v", moved.GetZone(), err)
	}
	// New zones take it when the account's defaults say so.
	if _, err := st.UpdateAccountZoneDefaults(ctx, "shop", func(d *dnsv1.AccountZoneDefaults) (*dnsv1.AccountZoneDefaults, error) {
		d.NameserverMethod = dnsv1.NameserverMethod_NAMESERVER_METHOD_TENANT_CUSTOM
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	made, err := zs.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "shop", Name: "new.example"})
	if err != nil || !slices.Equal(made.GetZone().GetNameServers(), want) {
		t.Fatalf("a new zone under the tenant's defaults: %v, %v", made.GetZone(), err)
	}
	// Out of the tenant: no tenant nameservers to take.
	if _, err := svc.SetAccountTenant(ctx, &dnsv1.SetAccountTenantRequest{AccountId: "shop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := zs.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "shop", Name: "later.example"}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("tenant defaults without a tenant: %v, want FailedPrecondition", err)
	}
	if _, err := svc.DeleteTenantNameserver(ctx, &dnsv1.DeleteTenantNameserverRequest{TenantId: "partner", NsName: "ns2.partner.example"}); err != nil {
		t.Fatal(err)
	}
	if l, err := svc.ListTenantNameservers(ctx, &dnsv1.ListTenantNameserversRequest{TenantId: "partner"}); err != nil || len(l.GetNameservers()) != 1 {
		t.Fatalf("after a delete: %v, %v", l, err)
	}
}
