package zones

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/quickscan"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records"
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

func TestQuickScanImportsWhatTheOldProviderServesOnce(t *testing.T) {
	old := startFakeAuthority(t,
		"shop.example. 300 IN A 192.0.2.10",
		"www.shop.example. 300 IN CNAME shop.example.",
		"mail.shop.example. 300 IN A 192.0.2.25",
	)
	resolver := startFakeAuthority(t, "shop.example. 3600 IN NS ns.old.test.", "ns.old.test. 3600 IN A 127.0.0.1")
	st := newStore(t)
	_, port, _ := net.SplitHostPort(old)
	p, _ := strconv.Atoi(port)
	c := newClientOn(t, st, Options{
		Scanner: &quickscan.Scanner{Resolver: resolver, Port: p, Timeout: time.Second},
		Records: records.New(st, records.Options{}, zaptest.NewLogger(t)),
	})
	ctx := ctxT(t)
	made, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	id := made.GetZone().GetId()
	seen, err := c.ScanRecords(ctx, &dnsv1.ScanRecordsRequest{ZoneId: id})
	if err != nil || len(seen.GetFound()) != 3 || len(seen.GetImported()) != 0 {
		t.Fatalf("scan without import: %v, %v; want 3 found, none imported", seen, err)
	}
	if recs, _, _ := st.ListRecords(ctx, id, store.RecordFilter{}, 10, ""); len(recs) != 0 {
		t.Fatalf("a scan without import wrote %d records", len(recs))
	}
	got, err := c.ScanRecords(ctx, &dnsv1.ScanRecordsRequest{ZoneId: id, ImportRecords: true})
	if err != nil || len(got.GetImported()) != 3 {
		t.Fatalf("scan with import: %v, %v; want 3 imported", got, err)
	}
	again, err := c.ScanRecords(ctx, &dnsv1.ScanRecordsRequest{ZoneId: id, ImportRecords: true})
	if err != nil || len(again.GetImported()) != 0 {
		t.Fatalf("second import: %v, %v; want nothing new", again, err)
	}
	if recs, _, _ := st.ListRecords(ctx, id, store.RecordFilter{}, 10, ""); len(recs) != 3 {
		t.Fatalf("zone holds %d records, want 3", len(recs))
	}
	noScan := newClient(t, Options{})
	other, err := noScan.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "quiet.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noScan.ScanRecords(ctx, &dnsv1.ScanRecordsRequest{ZoneId: other.GetZone().GetId()}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("scan without a resolver: %v, want FailedPrecondition", err)
	}
}

// startFakeAuthority serves zone-file lines on 127.0.0.1 (UDP).
func startFakeAuthority(t *testing.T, lines ...string) string {
	t.Helper()
	var rrs []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, rr := range rrs {
			if strings.EqualFold(rr.Header().Name, r.Question[0].Name) && (rr.Header().Rrtype == r.Question[0].Qtype || rr.Header().Rrtype == dns.TypeCNAME) {
				m.Answer = append(m.Answer, rr)
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestSetupsNeedTheirPlanAndDowngradesKeepWithinLimits(t *testing.T) {
	c := newClient(t, Options{})
	ctx := ctxT(t)
	for _, tt := range []struct {
		typ  dnsv1.ZoneType
		plan dnsv1.Plan
		ok   bool
	}{
		{dnsv1.ZoneType_ZONE_TYPE_PARTIAL, dnsv1.Plan_PLAN_PRO, false},
		{dnsv1.ZoneType_ZONE_TYPE_PARTIAL, dnsv1.Plan_PLAN_BUSINESS, true},
		{dnsv1.ZoneType_ZONE_TYPE_SECONDARY, dnsv1.Plan_PLAN_BUSINESS, false},
		{dnsv1.ZoneType_ZONE_TYPE_SECONDARY, dnsv1.Plan_PLAN_ENTERPRISE, true},
	} {
		name := strings.ToLower(tt.typ.String()[10:] + "-" + tt.plan.String()[5:] + ".example")
		_, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: name, Type: tt.typ, Plan: tt.plan})
		if (err == nil) != tt.ok {
			t.Fatalf("%v on %v: %v, want ok=%t", tt.typ, tt.plan, err, tt.ok)
		}
		if err != nil && grpcstatus.Code(err) != codes.InvalidArgument {
			t.Fatalf("%v on %v: code %v, want InvalidArgument naming the limit", tt.typ, tt.plan, grpcstatus.Code(err))
		}
	}
	part, err := c.ListZones(ctx, &dnsv1.ListZonesRequest{AccountId: "acct", Name: "partial-business.example"})
	if err != nil || len(part.GetZones()) != 1 {
		t.Fatal(err)
	}
	id := part.GetZones()[0].GetId()
	if _, err := c.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: id, Plan: dnsv1.Plan_PLAN_FREE}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("downgrading a partial zone to free: %v, want FailedPrecondition", err)
	}
	up, err := c.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: id, Plan: dnsv1.Plan_PLAN_ENTERPRISE})
	if err != nil || up.GetZone().GetPlan() != dnsv1.Plan_PLAN_ENTERPRISE {
		t.Fatalf("upgrade: %v, %v", up, err)
	}
}

func TestSetupConversions(t *testing.T) {
	c := newClient(t, Options{})
	ctx := ctxT(t)
	const (
		full      = dnsv1.ZoneType_ZONE_TYPE_FULL
		partial   = dnsv1.ZoneType_ZONE_TYPE_PARTIAL
		secondary = dnsv1.ZoneType_ZONE_TYPE_SECONDARY
		active    = dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE
		pending   = dnsv1.ZoneStatus_ZONE_STATUS_PENDING
	)
	tests := []struct {
		from, to   dnsv1.ZoneType
		plan       dnsv1.Plan
		wantCode   codes.Code
		wantStatus dnsv1.ZoneStatus
	}{
		{full, partial, dnsv1.Plan_PLAN_BUSINESS, codes.OK, pending},
		{full, partial, dnsv1.Plan_PLAN_PRO, codes.InvalidArgument, 0},
		{full, secondary, dnsv1.Plan_PLAN_ENTERPRISE, codes.OK, active},
		{full, secondary, dnsv1.Plan_PLAN_BUSINESS, codes.InvalidArgument, 0},
		{partial, full, dnsv1.Plan_PLAN_BUSINESS, codes.OK, pending},
		{partial, secondary, dnsv1.Plan_PLAN_ENTERPRISE, codes.OK, pending},
		{secondary, full, dnsv1.Plan_PLAN_ENTERPRISE, codes.OK, active},
		{secondary, partial, dnsv1.Plan_PLAN_ENTERPRISE, codes.OK, pending},
		{full, full, dnsv1.Plan_PLAN_ENTERPRISE, codes.InvalidArgument, 0},
	}
	for i, tt := range tests {
		name := fmt.Sprintf("conv%d.example", i)
		t.Run(setupName(tt.from)+"→"+setupName(tt.to)+"/"+tt.plan.String(), func(t *testing.T) {
			made, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: name, Type: tt.from, Plan: tt.plan})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ChangeSetup(ctx, &dnsv1.ChangeSetupRequest{ZoneId: made.GetZone().GetId(), Type: tt.to})
			if grpcstatus.Code(err) != tt.wantCode {
				t.Fatalf("ChangeSetup: %v, want %v", err, tt.wantCode)
			}
			if err != nil {
				return
			}
			z := got.GetZone()
			if z.GetType() != tt.to || z.GetStatus() != tt.wantStatus || (tt.to == partial) != (z.GetVerification() != nil) {
				t.Fatalf("after conversion: type %v status %v verification %v; want %v %v", z.GetType(), z.GetStatus(), z.GetVerification(), tt.to, tt.wantStatus)
			}
		})
	}
}

func TestZoneCustomNameservers(t *testing.T) {
	c := newClient(t, Options{NameserverIPv4: []string{"203.0.113.53"}, NameserverIPv6: []string{"2001:db8:53::1"}})
	ctx := ctxT(t)
	free, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "small.example"})
	if err != nil {
		t.Fatal(err)
	}
	set := func(id string, names ...string) (*dnsv1.UpdateZoneResponse, error) {
		return c.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: id, VanityNameServers: &dnsv1.VanityNameservers{Names: names}})
	}
	if _, err := set(free.GetZone().GetId(), "ns1.small.example", "ns2.small.example"); grpcstatus.Code(err) != codes.InvalidArgument {
		t.Fatalf("zone custom nameservers on free: %v, want InvalidArgument naming the limit", err)
	}
	biz, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "brand.example", Plan: dnsv1.Plan_PLAN_BUSINESS})
	if err != nil {
		t.Fatal(err)
	}
	id := biz.GetZone().GetId()
	for _, bad := range [][]string{
		{"ns1.brand.example"},                       // one name
		{"ns1.brand.example", "ns1.other.example"},  // outside the zone
		{"brand.example", "ns1.brand.example"},      // the apex
		{"ns1.brand.example", "NS1.brand.example."}, // twice
	} {
		if _, err := set(id, bad...); grpcstatus.Code(err) != codes.InvalidArgument {
			t.Fatalf("vanity %v: %v, want InvalidArgument", bad, err)
		}
	}
	got, err := set(id, "NS1.brand.example", "ns2.brand.example")
	if err != nil {
		t.Fatal(err)
	}
	z := got.GetZone()
	if !slices.Equal(z.GetVanityNameServers(), []string{"ns1.brand.example.", "ns2.brand.example."}) || len(z.GetVanityNameServersIps()) != 2 ||
		z.GetVanityNameServersIps()[0].GetIpv4() != "203.0.113.53" || z.GetVanityNameServersIps()[1].GetIpv6() != "2001:db8:53::1" {
		t.Fatalf("zone custom nameservers: %v / %v", z.GetVanityNameServers(), z.GetVanityNameServersIps())
	}
	if _, err := c.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: id, Plan: dnsv1.Plan_PLAN_PRO}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("downgrade below zone custom nameservers: %v, want FailedPrecondition", err)
	}
	cleared, err := set(id)
	if err != nil || len(cleared.GetZone().GetVanityNameServers()) != 0 {
		t.Fatalf("removing: %v, %v", cleared, err)
	}
}

func TestAnActivatedZoneHasNoTimerLeft(t *testing.T) {
	parent, addr := startFakeDelegation(t)
	c := newClient(t, Options{ActivationMode: ModeDelegation, Resolver: addr})
	ctx := ctxT(t)
	made, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct", Name: "timer.example"})
	if err != nil || made.GetZone().GetNextStatusOn() == nil {
		t.Fatalf("a pending free zone: %v, %v; want a deletion timer", made, err)
	}
	parent.set("timer.example.", made.GetZone().GetNameServers()...)
	if _, err := c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: made.GetZone().GetId()}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: made.GetZone().GetId()})
	if err != nil || got.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE || got.GetZone().GetNextStatusOn() != nil {
		t.Fatalf("after activation: %v, %v; want ACTIVE without a timer (derived fields are never stored)", got.GetZone(), err)
	}
}
