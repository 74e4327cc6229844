package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/lifecycle"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Every row of docs/ZONE_LIFECYCLE.md's status table, over the whole path:
// what the edges answer for a zone in each status.
func TestEdgesAnswerEachZoneStatusAsDocumented(t *testing.T) {
	c := newCluster(t, 2)
	ctx := c.ctx()

	// Initializing: nothing is answered until a plan is chosen.
	init, err := c.zones.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "later.test", DeferPlan: true})
	if err != nil {
		t.Fatal(err)
	}
	c.createRecord(init.GetZone().GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.7"})
	z := c.createZone("acme", "life.test", dnsv1.Plan_PLAN_FREE)
	id := z.GetId()
	c.createRecord(id, &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.1", Proxied: true, Ttl: 120})
	c.createRecord(id, &dnsv1.Record{Name: "plain", Type: "A", Content: "203.0.113.2", Ttl: 120})
	c.eventually("active zone loaded", answerIs("plain.life.test.", dns.TypeA, dns.RcodeSuccess, "203.0.113.2"))
	if err := answerIs("www.later.test.", dns.TypeA, dns.RcodeRefused)(c.edges[0].UDPAddr()); err != nil {
		t.Fatalf("initializing zone: %v", err)
	}

	v4 := anycastFor(id, testAnycastV4)
	c.eventually("active: proxied", answerWith("www.life.test.", dns.TypeA, 300, v4...))

	// Deleted: still answered, proxied records as DNS-only.
	if _, err := c.zones.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: id}); err != nil {
		t.Fatal(err)
	}
	c.eventually("deleted: DNS-only", answerIs("www.life.test.", dns.TypeA, dns.RcodeSuccess, "203.0.113.1"))
	c.eventually("deleted: other records kept", answerIs("plain.life.test.", dns.TypeA, dns.RcodeSuccess, "203.0.113.2"))
	if _, err := c.records.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: id, Record: &dnsv1.Record{Name: "new", Type: "A", Content: "203.0.113.9"}}); grpcstatus.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a record written to a deleted zone: %v, want FailedPrecondition", err)
	}

	// Re-added within the window: restored with its records, proxied again.
	again := c.createZone("acme", "life.test", dnsv1.Plan_PLAN_FREE)
	if again.GetId() != id {
		t.Fatalf("re-adding gave zone %s, want the deleted zone %s restored", again.GetId(), id)
	}
	c.eventually("restored: proxied", answerWith("www.life.test.", dns.TypeA, 300, v4...))

	// Choosing the initializing zone's plan makes it served.
	if _, err := c.zones.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: init.GetZone().GetId(), Plan: dnsv1.Plan_PLAN_PRO}); err != nil {
		t.Fatal(err)
	}
	c.eventually("plan chosen: served", answerIs("www.later.test.", dns.TypeA, dns.RcodeSuccess, "203.0.113.7"))

	// Purged: nothing.
	if _, err := c.zones.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cp.Store().PurgeZone(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.eventually("purged: refused", answerIs("plain.life.test.", dns.TypeA, dns.RcodeRefused))
}

// A zone walks the documented statuses on its own, driven by the lifecycle
// worker of a real control plane with timers of a second instead of days:
// pending until the parent delegates to it, active, moved once the
// delegation leaves, deleted, purged; the edges follow each step.
func TestAZoneWalksFromPendingToPurgedOnItsOwn(t *testing.T) {
	parent := newTestUpstream(t)
	c := newCluster(t, 2, withActivation("delegation", parent.addr), withLifecycle(lifecycle.Policy{
		FirstCheck: 100 * time.Millisecond, MaxCheckInterval: 200 * time.Millisecond,
		ActiveCheckInterval: 200 * time.Millisecond, RecheckAfterFailure: 100 * time.Millisecond,
		MovedDeleteAfter: time.Second, DeletedPurgeAfter: time.Second,
		ManualCheckFree: -1, ManualCheckPaid: -1,
	}, 50*time.Millisecond))
	z := c.createZone("acme", "walk.test", dnsv1.Plan_PLAN_FREE)
	id := z.GetId()
	if z.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
		t.Fatalf("created %v, want PENDING", z.GetStatus())
	}
	c.createRecord(id, &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.1", Proxied: true})
	c.eventually("pending: DNS-only", answerIs("www.walk.test.", dns.TypeA, dns.RcodeSuccess, "203.0.113.1"))

	status := func(want dnsv1.ZoneStatus) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, err := c.zones.GetZone(c.ctx(), &dnsv1.GetZoneRequest{ZoneId: id})
			if want == dnsv1.ZoneStatus_ZONE_STATUS_PURGED && grpcstatus.Code(err) == codes.NotFound {
				return
			}
			if err == nil && got.GetZone().GetStatus() == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("zone status %v (%v), want %v", got.GetZone().GetStatus(), err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var ns []string
	for _, n := range z.GetNameServers() {
		ns = append(ns, "walk.test. 3600 IN NS "+n)
	}
	parent.set(t, "walk.test.", dns.TypeNS, ns...)
	status(dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	c.eventually("active: proxied", answerWith("www.walk.test.", dns.TypeA, 300, anycastFor(id, testAnycastV4)...))

	parent.set(t, "walk.test.", dns.TypeNS, "walk.test. 3600 IN NS ns1.elsewhere.example.", "walk.test. 3600 IN NS ns2.elsewhere.example.")
	status(dnsv1.ZoneStatus_ZONE_STATUS_MOVED)
	c.eventually("moved: DNS-only", answerIs("www.walk.test.", dns.TypeA, dns.RcodeSuccess, "203.0.113.1"))
	status(dnsv1.ZoneStatus_ZONE_STATUS_DELETED)
	status(dnsv1.ZoneStatus_ZONE_STATUS_PURGED)
	c.eventually("purged: refused", answerIs("www.walk.test.", dns.TypeA, dns.RcodeRefused))
}

// Zone custom nameservers end to end: the edges answer them as the apex NS
// set and their read-only addresses, which replace the user's own.
func TestZoneCustomNameserversAreAnsweredWithTheirAddresses(t *testing.T) {
	c := newCluster(t, 2)
	z := c.createZone("acme", "brand.test", dnsv1.Plan_PLAN_BUSINESS)
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "ns1", Type: "A", Content: "198.51.100.200"})
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "198.51.100.7"})
	c.eventually("zone loaded", answerIs("www.brand.test.", dns.TypeA, dns.RcodeSuccess, "198.51.100.7"))
	got, err := c.zones.UpdateZone(c.ctx(), &dnsv1.UpdateZoneRequest{ZoneId: z.GetId(),
		VanityNameServers: &dnsv1.VanityNameservers{Names: []string{"ns1.brand.test", "ns2.brand.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	ips := got.GetZone().GetVanityNameServersIps()
	c.eventually("apex NS are the custom names", answerIs("brand.test.", dns.TypeNS, dns.RcodeSuccess, "ns1.brand.test.", "ns2.brand.test."))
	c.eventually("ns1 glue replaces the user's A", answerIs("ns1.brand.test.", dns.TypeA, dns.RcodeSuccess, ips[0].GetIpv4()))
	c.eventually("ns2 IPv6 glue", answerIs("ns2.brand.test.", dns.TypeAAAA, dns.RcodeSuccess, ips[1].GetIpv6()))
	if _, err := c.zones.UpdateZone(c.ctx(), &dnsv1.UpdateZoneRequest{ZoneId: z.GetId(), VanityNameServers: &dnsv1.VanityNameservers{}}); err != nil {
		t.Fatal(err)
	}
	c.eventually("assigned NS again", answerIs("brand.test.", dns.TypeNS, dns.RcodeSuccess, z.GetNameServers()...))
	c.eventually("the user's A again", answerIs("ns1.brand.test.", dns.TypeA, dns.RcodeSuccess, "198.51.100.200"))
}

// Account custom nameservers end to end: the zone that contains the names
// answers their addresses, and a new zone whose account defaults ask for a
// set is served with it.
func TestAccountCustomNameserversAreAnswered(t *testing.T) {
	c := newCluster(t, 1)
	ctx := c.ctx()
	c.createZone("acme", "vanity.test", dnsv1.Plan_PLAN_BUSINESS)
	ns := dnsv1.NewCustomNameserverServiceClient(c.dial(c.cpCfg.OperatorTokens[0]))
	var ips []string
	for _, n := range []string{"ns1.vanity.test", "ns2.vanity.test"} {
		r, err := ns.CreateCustomNameserver(ctx, &dnsv1.CreateCustomNameserverRequest{AccountId: "acme", NsName: n})
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, r.GetNameserver().GetIpv4())
	}
	c.eventually("glue in the hosting zone", answerIs("ns2.vanity.test.", dns.TypeA, dns.RcodeSuccess, ips[1]))
	mine := c.createZone("acme", "mine.test", dnsv1.Plan_PLAN_FREE) // before the defaults change: the account's pair
	if slices.Contains(mine.GetNameServers(), "ns1.vanity.test.") {
		t.Fatalf("mine.test got custom nameservers before the defaults asked for them: %v", mine.GetNameServers())
	}
	if _, err := c.settings.UpdateAccountZoneDefaults(ctx, &dnsv1.UpdateAccountZoneDefaultsRequest{AccountId: "acme",
		Defaults:   &dnsv1.AccountZoneDefaults{NameserverMethod: dnsv1.NameserverMethod_NAMESERVER_METHOD_ACCOUNT_CUSTOM, NameserverSet: 1},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"nameserver_method", "nameserver_set"}}}); err != nil {
		t.Fatal(err)
	}
	c.createZone("acme", "customer.test", dnsv1.Plan_PLAN_FREE)
	c.eventually("served with the custom set", answerIs("customer.test.", dns.TypeNS, dns.RcodeSuccess, "ns1.vanity.test.", "ns2.vanity.test."))

	// An existing zone moves onto the set, and back.
	c.eventually("mine on the account's pair", answerIs("mine.test.", dns.TypeNS, dns.RcodeSuccess, mine.GetNameServers()...))
	if _, err := c.zones.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: mine.GetId(), AccountNameservers: &dnsv1.AccountNameservers{NsSet: 1}}); err != nil {
		t.Fatal(err)
	}
	c.eventually("mine moved onto set 1", answerIs("mine.test.", dns.TypeNS, dns.RcodeSuccess, "ns1.vanity.test.", "ns2.vanity.test."))
	if _, err := c.zones.UpdateZone(ctx, &dnsv1.UpdateZoneRequest{ZoneId: mine.GetId(), AccountNameservers: &dnsv1.AccountNameservers{}}); err != nil {
		t.Fatal(err)
	}
	c.eventually("mine back on its pair", answerIs("mine.test.", dns.TypeNS, dns.RcodeSuccess, mine.GetNameServers()...))
}

// A partial (CNAME) setup end to end: the platform is not authoritative for
// the domain; its hostnames are answered below the partial suffix, proxied
// ones with the anycast addresses, and a CNAME to a name of the same zone
// resolves on the platform.
func TestAPartialZoneIsAnsweredBelowThePartialSuffix(t *testing.T) {
	c := newCluster(t, 2)
	resp, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "part.test", Type: dnsv1.ZoneType_ZONE_TYPE_PARTIAL, Plan: dnsv1.Plan_PLAN_BUSINESS})
	if err != nil {
		t.Fatal(err)
	}
	z := resp.GetZone()
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.10", Proxied: true})
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "api", Type: "A", Content: "203.0.113.11", Ttl: 120})
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "shop", Type: "CNAME", Content: "api.part.test", Ttl: 120})
	c.eventually("DNS-only hostname below the suffix", answerIs("api.part.test.cdn.zonegrid.test.", dns.TypeA, dns.RcodeSuccess, "203.0.113.11"))
	c.eventually("proxied hostname: anycast", answerWith("www.part.test.cdn.zonegrid.test.", dns.TypeA, 300, anycastFor(z.GetId(), testAnycastV4)...))
	c.eventually("not authoritative for the domain itself", answerIs("api.part.test.", dns.TypeA, dns.RcodeRefused))
	c.eventually("a CNAME inside the zone resolves on the platform", func(addr string) error {
		m, err := exchange(addr, "shop.part.test.cdn.zonegrid.test.", dns.TypeA, false)
		if err != nil {
			return err
		}
		var target, a string
		for _, rr := range m.Answer {
			switch v := rr.(type) {
			case *dns.CNAME:
				target = v.Target
			case *dns.A:
				a = v.A.String()
			}
		}
		if target != "api.part.test.cdn.zonegrid.test." || a != "203.0.113.11" {
			return fmt.Errorf("answer %v; want the CNAME to api below the suffix and its address", m.Answer)
		}
		return nil
	})
}
