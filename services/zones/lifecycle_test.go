package zones

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestDeleteIsSoftAndAddingTheNameAgainRestoresTheZone(t *testing.T) {
	c := newClient(t, Options{})
	ctx := ctxT(t)
	made, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "restore.example"})
	if err != nil {
		t.Fatal(err)
	}
	z := made.GetZone()
	if _, err := c.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: z.GetId()}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: z.GetId()})
	if err != nil {
		t.Fatalf("a deleted zone is still readable: %v", err)
	}
	g := got.GetZone()
	if g.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_DELETED || g.GetNextStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PURGED {
		t.Fatalf("deleted zone: status %v, next %v", g.GetStatus(), g.GetNextStatus())
	}
	if purge := g.GetNextStatusOn().AsTime().Sub(g.GetStatusChangedOn().AsTime()); purge != 7*24*time.Hour {
		t.Fatalf("purge scheduled %v after deletion, want 7 days", purge)
	}
	if _, err := c.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: z.GetId()}); grpcstatus.Code(err) != codes.NotFound {
		t.Fatalf("second delete: %v, want NotFound", err)
	}
	if _, err := c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: z.GetId()}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("activation check of a deleted zone: %v, want FailedPrecondition", err)
	}
	again, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "restore.example", Plan: dnsv1.Plan_PLAN_PRO})
	if err != nil {
		t.Fatalf("re-adding a deleted zone: %v", err)
	}
	r := again.GetZone()
	if r.GetId() != z.GetId() || r.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE || r.GetPlan() != dnsv1.Plan_PLAN_PRO ||
		r.GetCreatedOn().AsTime() != z.GetCreatedOn().AsTime() {
		t.Fatalf("restored zone %v; want the same id and creation time, ACTIVE, PRO", r)
	}
	if _, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "restore.example"}); grpcstatus.Code(err) != codes.AlreadyExists {
		t.Fatalf("adding a live zone twice: %v, want AlreadyExists", err)
	}
}

func TestAZoneWithoutAPlanInitializesUntilOneIsChosen(t *testing.T) {
	c := newClient(t, Options{})
	ctx := ctxT(t)
	if _, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "x.example", DeferPlan: true, Plan: dnsv1.Plan_PLAN_PRO}); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("defer_plan with a plan: %v, want InvalidArgument", err)
	}
	made, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "init.example", DeferPlan: true})
	if err != nil {
		t.Fatal(err)
	}
	z := made.GetZone()
	if z.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING || z.GetNextStatus() != dnsv1.ZoneStatus_ZONE_STATUS_DELETED {
		t.Fatalf("zone without a plan: status %v, next %v", z.GetStatus(), z.GetNextStatus())
	}
	if _, err := c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: z.GetId()}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("activation check without a plan: %v, want FailedPrecondition", err)
	}
	if _, err := c.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: z.GetId()}); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("UpdateZone without a plan: %v, want InvalidArgument", err)
	}
	up, err := c.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: z.GetId(), Plan: dnsv1.Plan_PLAN_BUSINESS})
	if err != nil {
		t.Fatal(err)
	}
	if u := up.GetZone(); u.GetPlan() != dnsv1.Plan_PLAN_BUSINESS || u.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("after choosing a plan (immediate mode): %v", u)
	}
}

func TestPendingZonesReportTheirTimersAndChecks(t *testing.T) {
	_, addr := startFakeDelegation(t)
	c := newClient(t, Options{ActivationMode: ModeDelegation, Resolver: addr})
	ctx := ctxT(t)
	for _, tt := range []struct {
		plan     dnsv1.Plan
		deleteIn time.Duration // 0: no timer
	}{{dnsv1.Plan_PLAN_FREE, 28 * 24 * time.Hour}, {dnsv1.Plan_PLAN_PRO, 0}} {
		made, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "timer-" + tt.plan.String()[5:] + ".example", Plan: tt.plan})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: made.GetZone().GetId()})
		if err != nil {
			t.Fatal(err)
		}
		z := got.GetZone()
		if tt.deleteIn == 0 && z.GetNextStatusOn() != nil {
			t.Fatalf("%v pending zone has a timer: %v", tt.plan, z.GetNextStatusOn().AsTime())
		}
		if tt.deleteIn > 0 && z.GetNextStatusOn().AsTime().Sub(z.GetCreatedOn().AsTime()) != tt.deleteIn {
			t.Fatalf("%v pending zone deleted %v after creation, want %v", tt.plan, z.GetNextStatusOn().AsTime().Sub(z.GetCreatedOn().AsTime()), tt.deleteIn)
		}
		if first := z.GetActivationChecks().GetNextCheckOn().AsTime().Sub(z.GetCreatedOn().AsTime()); first != time.Minute {
			t.Fatalf("first check %v after creation, want 60 s", first)
		}
	}
}

func TestActivationCheckIsRateLimitedPerPlan(t *testing.T) {
	_, addr := startFakeDelegation(t)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	c := newClient(t, Options{ActivationMode: ModeDelegation, Resolver: addr, Now: clock})
	ctx := ctxT(t)
	for _, tt := range []struct {
		plan  dnsv1.Plan
		every time.Duration
	}{{dnsv1.Plan_PLAN_FREE, time.Hour}, {dnsv1.Plan_PLAN_ENTERPRISE, 5 * time.Minute}} {
		made, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "limit-" + tt.plan.String()[5:] + ".example", Plan: tt.plan})
		if err != nil {
			t.Fatal(err)
		}
		id := made.GetZone().GetId()
		if _, err := c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: id}); err != nil {
			t.Fatalf("%v first check: %v", tt.plan, err)
		}
		now = now.Add(tt.every - time.Second)
		_, err = c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: id})
		if grpcstatus.Code(err) != codes.ResourceExhausted {
			t.Fatalf("%v check %v later: %v, want ResourceExhausted", tt.plan, tt.every-time.Second, err)
		}
		var retry *errdetails.RetryInfo
		for _, d := range grpcstatus.Convert(err).Details() {
			if r, ok := d.(*errdetails.RetryInfo); ok {
				retry = r
			}
		}
		if retry.GetRetryDelay().AsDuration() != time.Second {
			t.Fatalf("%v retry delay %v, want 1s", tt.plan, retry.GetRetryDelay().AsDuration())
		}
		now = now.Add(time.Second)
		if _, err := c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: id}); err != nil {
			t.Fatalf("%v check after the interval: %v", tt.plan, err)
		}
	}
}

func TestZoneHoldsKeepOtherAccountsOut(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := newClient(t, Options{Now: func() time.Time { return now }})
	ctx := ctxT(t)
	free, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "small", Name: "free.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateZoneHold(ctx, &dnsv1.CreateZoneHoldRequest{ZoneId: free.GetZone().GetId()}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("hold on a free zone: %v, want FailedPrecondition", err)
	}
	ent, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "bank", Name: "bank.example", Plan: dnsv1.Plan_PLAN_ENTERPRISE})
	if err != nil {
		t.Fatal(err)
	}
	id := ent.GetZone().GetId()
	h, err := c.CreateZoneHold(ctx, &dnsv1.CreateZoneHoldRequest{ZoneId: id})
	if err != nil || !h.GetHold().GetHold() {
		t.Fatalf("create hold: %v, %v", h, err)
	}
	add := func(account, name string) error {
		_, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: account, Name: name, Plan: dnsv1.Plan_PLAN_ENTERPRISE})
		return err
	}
	if err := add("thief", "bank.example"); grpcstatus.Code(err) != codes.FailedPrecondition || !strings.Contains(grpcstatus.Convert(err).Message(), "subject to a hold") {
		t.Fatalf("another account adds a held name: %v", err)
	}
	if err := add("thief", "www.bank.example"); err != nil {
		t.Fatalf("a subdomain without include_subdomains: %v", err)
	}
	if _, err := c.CreateZoneHold(ctx, &dnsv1.CreateZoneHoldRequest{ZoneId: id, IncludeSubdomains: true}); err != nil {
		t.Fatal(err)
	}
	if err := add("thief", "api.bank.example"); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a subdomain with include_subdomains: %v, want FailedPrecondition", err)
	}
	if err := add("bank", "api.bank.example"); err != nil {
		t.Fatalf("the holder adds a subdomain: %v", err)
	}
	// Removed until tomorrow: others may add it now, not after.
	rm, err := c.RemoveZoneHold(ctx, &dnsv1.RemoveZoneHoldRequest{ZoneId: id, HoldAfter: timestamppb.New(now.Add(24 * time.Hour))})
	if err != nil || rm.GetHold().GetHold() {
		t.Fatalf("remove hold: %v, %v", rm, err)
	}
	if err := add("other", "a.bank.example"); err != nil {
		t.Fatalf("while the hold is lifted: %v", err)
	}
	now = now.Add(24 * time.Hour)
	got, err := c.GetZoneHold(ctx, &dnsv1.GetZoneHoldRequest{ZoneId: id})
	if err != nil || !got.GetHold().GetHold() {
		t.Fatalf("hold after hold_after: %v, %v; want held again", got, err)
	}
	if err := add("other", "b.bank.example"); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("after hold_after: %v, want FailedPrecondition", err)
	}
	if _, err := c.RemoveZoneHold(ctx, &dnsv1.RemoveZoneHoldRequest{ZoneId: id, HoldAfter: timestamppb.New(now.Add(-time.Hour))}); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("hold_after in the past: %v, want InvalidArgument", err)
	}
}

func TestNewZonesFollowTheAccountsZoneDefaults(t *testing.T) {
	st := newStore(t)
	c := newClientOn(t, st, Options{})
	ctx := ctxT(t)
	if _, err := st.UpdateAccountZoneDefaults(ctx, "corp", func(d *dnsv1.AccountZoneDefaults) (*dnsv1.AccountZoneDefaults, error) {
		d.NameserverMethod = dnsv1.NameserverMethod_NAMESERVER_METHOD_ADVANCED
		d.MultiProvider = true
		d.NsTtl = 3600
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	made, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "corp", Name: "corp.example", Plan: dnsv1.Plan_PLAN_ENTERPRISE})
	if err != nil {
		t.Fatal(err)
	}
	ns := made.GetZone().GetNameServers()
	if len(ns) != 3 || !strings.HasSuffix(ns[0], ".fdns-a.zonegrid.test.") || !strings.HasSuffix(ns[2], ".fdns-c.zonegrid.test.") {
		t.Fatalf("advanced nameservers %v, want one label under the three advanced domains", ns)
	}
	zs, err := st.GetZoneSettings(ctx, made.GetZone().GetId())
	if err != nil || !zs.GetMultiProvider() || zs.GetNsTtl() != 3600 {
		t.Fatalf("new zone settings %v (%v), want the account defaults", zs, err)
	}
	child, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "corp", Name: "dev.corp.example", Plan: dnsv1.Plan_PLAN_ENTERPRISE})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(child.GetZone().GetNameServers(), ns) {
		t.Fatalf("a child zone got its parent's advanced set %v", ns)
	}
	if _, err := st.UpdateAccountZoneDefaults(ctx, "corp", func(d *dnsv1.AccountZoneDefaults) (*dnsv1.AccountZoneDefaults, error) {
		d.NameserverMethod = dnsv1.NameserverMethod_NAMESERVER_METHOD_ACCOUNT_CUSTOM
		return d, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "corp", Name: "other.example", Plan: dnsv1.Plan_PLAN_ENTERPRISE}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("custom nameservers (not offered): %v, want FailedPrecondition", err)
	}
}

func TestAPresetDelegationIsNeverAssigned(t *testing.T) {
	parent, addr := startFakeDelegation(t)
	pool, err := nameservers.NewPool([]string{"ns1.zg.test", "ns2.zg.test", "ns3.zg.test"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Options{Pool: pool, ActivationMode: ModeDelegation, Resolver: addr})
	ctx := ctxT(t)
	// What the account would get without the preset.
	probe, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "victim", Name: "probe.example"})
	if err != nil {
		t.Fatal(err)
	}
	pair := probe.GetZone().GetNameServers()
	// An attacker presets that pair at the registrar before the victim adds
	// the name.
	parent.set("victim.example.", pair...)
	made, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "victim", Name: "victim.example"})
	if err != nil {
		t.Fatal(err)
	}
	if got := made.GetZone().GetNameServers(); slices.Equal(dnsname.NormalizedSet(got), dnsname.NormalizedSet(pair)) {
		t.Fatalf("assigned the preset pair %v", got)
	}
}
