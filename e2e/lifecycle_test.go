package e2e

import (
	"testing"

	"github.com/miekg/dns"

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
