package customns

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/zones"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

type env struct {
	st    *store.Store
	ns    *Service
	zones *zones.Service
	ctx   context.Context // a tenant of account "acct"
}

func newEnv(t *testing.T) *env {
	t.Helper()
	log := zaptest.NewLogger(t)
	st := store.New(etcdCli, etcdtest.Prefix(t), log)
	addrs, err := nameservers.NewAddresses([]string{"203.0.113.53"}, []string{"2001:db8::53"})
	if err != nil {
		t.Fatal(err)
	}
	zs, err := zones.New(st, zones.Options{ExtraSuffixes: []string{"example"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	tenant := caller.With(ctx, &caller.Caller{TokenID: "t1", AccountID: "acct", Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_ACCOUNT_DNS_SETTINGS_WRITE}})
	return &env{st: st, ns: New(st, addrs, log), zones: zs, ctx: tenant}
}

func (e *env) zone(t *testing.T, name string, plan dnsv1.Plan) *dnsv1.Zone {
	t.Helper()
	r, err := e.zones.CreateZone(context.Background(), &dnsv1.CreateZoneRequest{AccountId: "acct", Name: name, Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetZone()
}

func (e *env) add(name string, set uint32) (*dnsv1.CreateCustomNameserverResponse, error) {
	return e.ns.CreateCustomNameserver(e.ctx, &dnsv1.CreateCustomNameserverRequest{AccountId: "acct", NsName: name, NsSet: set})
}

func TestCustomNameserversFollowTheConfigurationConditions(t *testing.T) {
	e := newEnv(t)
	e.zone(t, "free.example", dnsv1.Plan_PLAN_FREE)
	if _, err := e.add("ns1.vanity.example", 1); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("an account with only Free zones: %v, want InvalidArgument naming the limit", err)
	}
	e.zone(t, "biz.example", dnsv1.Plan_PLAN_BUSINESS)
	got, err := e.add("NS1.Vanity.example", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := got.GetNameserver(); n.GetNsName() != "ns1.vanity.example." || n.GetNsSet() != 1 || n.GetIpv4() != "203.0.113.53" || n.GetIpv6() != "2001:db8::53" {
		t.Fatalf("created %v; want set 1 by default and the platform's addresses", n)
	}
	tests := []struct {
		name string
		set  uint32
		want codes.Code
	}{
		{"ns1.vanity.example", 2, codes.AlreadyExists}, // a name belongs to one set
		{"ns9.vanity.example", 6, codes.InvalidArgument},
		{"*.vanity.example", 1, codes.InvalidArgument},
		{"", 1, codes.InvalidArgument},
	}
	for _, tt := range tests {
		if _, err := e.add(tt.name, tt.set); grpcstatus.Code(err) != tt.want {
			t.Errorf("add %q to set %d: %v, want %v", tt.name, tt.set, err, tt.want)
		}
	}
	for i := 2; i <= 5; i++ {
		if _, err := e.add(fmt.Sprintf("ns%d.vanity.example", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.add("ns6.vanity.example", 1); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("a sixth name in a set: %v, want InvalidArgument", err)
	}
	list, err := e.ns.ListCustomNameservers(e.ctx, &dnsv1.ListCustomNameserversRequest{AccountId: "acct"})
	if err != nil || len(list.GetNameservers()) != 5 {
		t.Fatalf("list: %v, %v", list, err)
	}
	if _, err := e.ns.DeleteCustomNameserver(e.ctx, &dnsv1.DeleteCustomNameserverRequest{AccountId: "acct", NsName: "ns5.vanity.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ns.DeleteCustomNameserver(e.ctx, &dnsv1.DeleteCustomNameserverRequest{AccountId: "acct", NsName: "ns5.vanity.example"}); grpcstatus.Code(err) != codes.NotFound {
		t.Fatalf("deleting twice: %v, want NotFound", err)
	}
}

func TestZonesAnswerTheCustomNameserversTheyContainAndNewZonesUseASet(t *testing.T) {
	e := newEnv(t)
	host := e.zone(t, "vanity.example", dnsv1.Plan_PLAN_BUSINESS)
	for _, n := range []string{"ns1.vanity.example", "ns2.vanity.example"} {
		if _, err := e.add(n, 2); err != nil {
			t.Fatal(err)
		}
	}
	z, err := e.st.GetZone(context.Background(), host.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if h := z.GetHostedNameservers(); len(h) != 2 || h[0].GetName() != "ns1.vanity.example." || h[0].GetIpv4() != "203.0.113.53" {
		t.Fatalf("hosting zone's glue: %v", h)
	}
	// New zones of the account get set 2 when the defaults say so.
	if _, err := e.st.UpdateAccountZoneDefaults(context.Background(), "acct", func(d *dnsv1.AccountZoneDefaults) (*dnsv1.AccountZoneDefaults, error) {
		d.NameserverMethod = dnsv1.NameserverMethod_NAMESERVER_METHOD_ACCOUNT_CUSTOM
		d.NameserverSet = 2
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	other := e.zone(t, "customer.example", dnsv1.Plan_PLAN_FREE)
	if !slices.Equal(other.GetNameServers(), []string{"ns1.vanity.example.", "ns2.vanity.example."}) {
		t.Fatalf("a new zone's nameservers %v, want set 2", other.GetNameServers())
	}
	// A child of a zone using set 2 cannot use it too: no other usable set.
	if _, err := e.zones.CreateZone(context.Background(), &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "sub.customer.example", Plan: dnsv1.Plan_PLAN_ENTERPRISE}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a child zone with no free set: %v, want FailedPrecondition", err)
	}
	// Deleting a name takes its glue away.
	if _, err := e.ns.DeleteCustomNameserver(e.ctx, &dnsv1.DeleteCustomNameserverRequest{AccountId: "acct", NsName: "ns2.vanity.example"}); err != nil {
		t.Fatal(err)
	}
	z, _ = e.st.GetZone(context.Background(), host.GetId())
	if h := z.GetHostedNameservers(); len(h) != 1 {
		t.Fatalf("glue after a delete: %v", h)
	}
}

func TestAnExistingZoneMovesOntoACustomSetAndBack(t *testing.T) {
	e := newEnv(t)
	z := e.zone(t, "shop.example", dnsv1.Plan_PLAN_BUSINESS)
	for _, n := range []string{"ns1.brand.example", "ns2.brand.example"} {
		if _, err := e.add(n, 1); err != nil {
			t.Fatal(err)
		}
	}
	move := func(set uint32) (*dnsv1.UpdateZoneResponse, error) {
		return e.zones.UpdateZone(context.Background(), &dnsv1.UpdateZoneRequest{ZoneId: z.GetId(), AccountNameservers: &dnsv1.AccountNameservers{NsSet: set}})
	}
	if _, err := move(3); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("an empty set: %v, want FailedPrecondition", err)
	}
	if _, err := move(6); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("set 6: %v, want InvalidArgument", err)
	}
	got, err := move(1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.GetZone().GetAccountNameServers(), []string{"ns1.brand.example.", "ns2.brand.example."}) || got.GetZone().GetAccountNameserverSet() != 1 {
		t.Fatalf("on set 1: %v", got.GetZone())
	}
	if !slices.Equal(nameservers.Served(got.GetZone()), got.GetZone().GetAccountNameServers()) {
		t.Fatalf("served %v, want the set", nameservers.Served(got.GetZone()))
	}
	// A child zone cannot take its parent's set.
	child := e.zone(t, "eu.shop.example", dnsv1.Plan_PLAN_ENTERPRISE)
	if _, err := e.zones.UpdateZone(context.Background(), &dnsv1.UpdateZoneRequest{ZoneId: child.GetId(), AccountNameservers: &dnsv1.AccountNameservers{NsSet: 1}}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a child on its parent's set: %v, want FailedPrecondition", err)
	}
	back, err := move(0)
	if err != nil || len(back.GetZone().GetAccountNameServers()) != 0 || !slices.Equal(nameservers.Served(back.GetZone()), z.GetNameServers()) {
		t.Fatalf("back to the assigned nameservers: %v, %v", back, err)
	}
}
