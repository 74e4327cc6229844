package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Zone-name ownership (issue 7) over the whole path: API, etcd, builder,
// NATS and edge.

// published waits until everything written before it has reached every
// edge: it writes a TXT record into zoneID (named zone) and waits for it;
// the builder publishes in revision order.
func (c *cluster) published(zoneID, zone string) {
	c.tb.Helper()
	label := fmt.Sprintf("marker%d", time.Now().UnixNano())
	c.createRecord(zoneID, &dnsv1.Record{Name: label, Type: "TXT", Content: label})
	c.eventually("marker "+label+" published", answerIs(label+"."+zone, dns.TypeTXT, dns.RcodeSuccess, `"`+label+`"`))
}

// authoritativeAnswer checks name/A is answered with AA and exactly want.
func authoritativeAnswer(name string, want ...string) func(string) error {
	check := answerIs(name, dns.TypeA, dns.RcodeSuccess, want...)
	return func(addr string) error {
		if err := check(addr); err != nil {
			return err
		}
		if m, err := exchange(addr, name, dns.TypeA, false); err != nil || !m.Authoritative {
			return fmt.Errorf("%s A: not authoritative (%v)", name, err)
		}
		return nil
	}
}

func refusal(err error) (field, code string) {
	st := status.Convert(err)
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				field = v.GetField()
			}
		case *errdetails.ErrorInfo:
			code = d.GetMetadata()["code"]
		}
	}
	return field, code
}

// Another account cannot take over names of an active zone by creating a
// zone below it: on the free plan the zone is refused; as an Enterprise
// subdomain setup it is accepted but the edges keep answering the parent's
// records until the parent delegates the name to the child's nameservers.
func TestZoneBelowAnotherAccountsZoneIsNotServedUntilDelegated(t *testing.T) {
	c := newCluster(t, 2)
	bank := c.createZone("alice", "bank.example", dnsv1.Plan_PLAN_FREE)
	if bank.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("bank.example is %s, want ACTIVE", bank.GetStatus())
	}
	www := c.createRecord(bank.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1", Ttl: 300})
	c.eventually("bank's www answered", authoritativeAnswer("www.bank.example.", "192.0.2.1"))

	_, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: "mallory", Name: "www.bank.example", Plan: dnsv1.Plan_PLAN_FREE})
	if field, code := refusal(err); status.Code(err) != codes.InvalidArgument || field != "name" || code != "1093" {
		t.Fatalf("free-plan zone below bank.example: %v (field %q, code %q), want InvalidArgument on name, code 1093", err, field, code)
	}

	hijack := c.createZone("mallory", "www.bank.example", dnsv1.Plan_PLAN_ENTERPRISE)
	c.createRecord(hijack.GetId(), &dnsv1.Record{Name: "@", Type: "A", Content: "203.0.113.66", Ttl: 300})
	c.createRecord(hijack.GetId(), &dnsv1.Record{Name: "login", Type: "A", Content: "203.0.113.66", Ttl: 300})
	c.published(bank.GetId(), "bank.example.")
	c.eventually("bank's records still answered", authoritativeAnswer("www.bank.example.", "192.0.2.1"))
	c.eventually("nothing below www from the child", answerIs("login.www.bank.example.", dns.TypeA, dns.RcodeNameError))

	// The documented delegation: the parent replaces its address record by
	// NS records naming the child's assigned nameservers.
	if _, err := c.records.DeleteRecord(c.ctx(), &dnsv1.DeleteRecordRequest{ZoneId: bank.GetId(), RecordId: www.GetId()}); err != nil {
		t.Fatal(err)
	}
	var nsIDs []string
	for _, ns := range hijack.GetNameServers() {
		nsIDs = append(nsIDs, c.createRecord(bank.GetId(), &dnsv1.Record{Name: "www", Type: "NS", Content: ns}).GetId())
	}
	c.eventually("delegated child served", authoritativeAnswer("www.bank.example.", "203.0.113.66"))
	c.eventually("delegated child's names served", authoritativeAnswer("login.www.bank.example.", "203.0.113.66"))

	// Taking the delegation back unpublishes the child again: the parent
	// answers (a referral to nobody is gone too, so NXDOMAIN).
	if _, err := c.records.DeleteRecord(c.ctx(), &dnsv1.DeleteRecordRequest{ZoneId: bank.GetId(), RecordId: nsIDs[0]}); err != nil {
		t.Fatal(err)
	}
	c.eventually("child unserved after the delegation went", func(addr string) error {
		m, err := exchange(addr, "login.www.bank.example.", dns.TypeA, false)
		if err != nil {
			return err
		}
		for _, rr := range m.Answer {
			if rdata(rr) == "203.0.113.66" {
				return fmt.Errorf("child still answers %v", m.Answer)
			}
		}
		return nil
	})
}

// Pending zones never shadow anything; a zone below another account's
// active zone becomes active and served only through the documented path
// (the parent's delegation, seen by the activation check), and a second
// account's zone of the same name cannot take the name without it.
func TestPendingZonesNeverShadowAndNamesMoveOnlyByDelegation(t *testing.T) {
	public := newTestUpstream(t) // the public DNS the activation check asks
	c := newCluster(t, 1, withActivation("delegation", public.addr))
	edge := c.edges[0].UDPAddr()

	bank := c.createZone("alice", "bank.test", dnsv1.Plan_PLAN_FREE)
	public.set(t, "bank.test.", dns.TypeNS, nsRRs("bank.test.", bank.GetNameServers())...)
	if chk, err := c.zones.ActivationCheck(c.ctx(), &dnsv1.ActivationCheckRequest{ZoneId: bank.GetId()}); err != nil || chk.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("activate bank.test: %v %v", chk, err)
	}
	c.createRecord(bank.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1", Ttl: 300})

	// Another account's pending zone below the active one is not served.
	shop := c.createZone("bob", "shop.bank.test", dnsv1.Plan_PLAN_ENTERPRISE)
	if shop.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
		t.Fatalf("shop.bank.test is %s, want PENDING", shop.GetStatus())
	}
	c.createRecord(shop.GetId(), &dnsv1.Record{Name: "@", Type: "A", Content: "203.0.113.7", Ttl: 300})
	c.published(bank.GetId(), "bank.test.")
	if m := query(t, edge, "shop.bank.test.", dns.TypeA, false); m.Rcode != dns.RcodeNameError || len(m.Answer) != 0 {
		t.Fatalf("pending child answered: rcode %s answer %v, want the parent's NXDOMAIN", dns.RcodeToString[m.Rcode], m.Answer)
	}

	// A second account's zone of the parent's name stays pending: the
	// public delegation names alice's nameservers, not its own.
	rival := c.createZone("mallory", "bank.test", dnsv1.Plan_PLAN_FREE)
	chk, err := c.zones.ActivationCheck(c.ctx(), &dnsv1.ActivationCheckRequest{ZoneId: rival.GetId()})
	if err != nil || chk.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING || chk.GetReason() == "" {
		t.Fatalf("rival activation check: %v %v, want PENDING with a reason", chk, err)
	}
	c.createRecord(rival.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.99", Ttl: 300})
	c.published(bank.GetId(), "bank.test.")
	c.eventually("the active zone keeps the name", authoritativeAnswer("www.bank.test.", "192.0.2.1"))

	// Alice delegates shop to bob's nameservers; the public DNS follows
	// the referral, so bob's activation check passes and the zone is
	// served.
	for _, ns := range shop.GetNameServers() {
		c.createRecord(bank.GetId(), &dnsv1.Record{Name: "shop", Type: "NS", Content: ns})
	}
	c.published(bank.GetId(), "bank.test.")
	if m := query(t, edge, "shop.bank.test.", dns.TypeA, false); len(m.Answer) != 0 {
		t.Fatalf("still-pending child answered %v before its activation", m.Answer)
	}
	public.set(t, "shop.bank.test.", dns.TypeNS, nsRRs("shop.bank.test.", shop.GetNameServers())...)
	if chk, err := c.zones.ActivationCheck(c.ctx(), &dnsv1.ActivationCheckRequest{ZoneId: shop.GetId()}); err != nil || chk.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("activate shop.bank.test: %v %v", chk, err)
	}
	c.eventually("delegated, active child served", authoritativeAnswer("shop.bank.test.", "203.0.113.7"))
}

func nsRRs(name string, ns []string) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = name + " 3600 IN NS " + n
	}
	return out
}

// Public suffixes, names under unknown TLDs and the platform's own names
// are refused with the documented errors, and no edge serves them.
func TestUnownableNamesAreRefusedAndNeverServed(t *testing.T) {
	c := newCluster(t, 1)
	tests := []struct {
		name string
		zone string
		code string
	}{
		{"ICANN public suffix", "co.uk", "1049"},
		{"private-section public suffix", "github.io", "1049"},
		{"TLD not in the Public Suffix List", "bad.psl-example", "1099"},
		{"nameserver domain", "zonegrid.test", "1097"},
		{"nameserver host", "ns1.zonegrid.test", "1097"},
		{"partial setup suffix", "cdn.zonegrid.test", "1097"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: "mallory", Name: tt.zone, Plan: dnsv1.Plan_PLAN_ENTERPRISE})
			if field, code := refusal(err); status.Code(err) != codes.InvalidArgument || field != "name" || code != tt.code {
				t.Fatalf("create %s: %v (field %q, code %q), want InvalidArgument on name, code %s", tt.zone, err, field, code, tt.code)
			}
		})
	}
	// A registrable name under a private-section suffix is fine.
	ok := c.createZone("alice", "alice.github.io", dnsv1.Plan_PLAN_FREE)
	c.published(ok.GetId(), "alice.github.io.")
	for _, tt := range tests {
		if m := query(t, c.edges[0].UDPAddr(), tt.zone, dns.TypeSOA, false); m.Rcode != dns.RcodeRefused {
			t.Errorf("%s SOA: rcode %s, want REFUSED (not served)", tt.zone, dns.RcodeToString[m.Rcode])
		}
	}
	resp, err := c.zones.ListZones(c.ctx(), &dnsv1.ListZonesRequest{AccountId: "mallory"})
	if err != nil || len(resp.GetZones()) != 0 {
		t.Fatalf("refused zones left behind: %v %v", resp.GetZones(), err)
	}
}
