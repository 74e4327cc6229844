package e2e

// In-bailiwick glue over the whole path: the record API accepts address
// records for a delegation's own nameservers below the cut (the documents'
// "Delegate subdomains"), and the edges serve them only as glue in the
// additional section of the delegation's referrals.

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestGlueIsServedInReferralsOnly(t *testing.T) {
	c := newCluster(t, 2)
	z := c.createZone("acme", "glue.test", dnsv1.Plan_PLAN_FREE)
	id := z.GetId()
	c.createRecord(id, &dnsv1.Record{Name: "internal", Type: "NS", Content: "ns1.internal.glue.test"})
	c.createRecord(id, &dnsv1.Record{Name: "internal", Type: "NS", Content: "ns2.internal.glue.test"})
	c.createRecord(id, &dnsv1.Record{Name: "ns1.internal", Type: "A", Content: "192.0.2.53"})
	c.createRecord(id, &dnsv1.Record{Name: "ns1.internal", Type: "AAAA", Content: "2001:db8::53"})
	c.createRecord(id, &dnsv1.Record{Name: "ns2.internal", Type: "A", Content: "192.0.2.54", Ttl: 600})

	// An address below the cut that is no nameserver of it stays refused,
	// with the documented error, and so does proxied glue.
	_, err := c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: id,
		Record: &dnsv1.Record{Name: "www.internal", Type: "A", Content: "192.0.2.80"}})
	wantInvalid(t, err, "record.name")
	if !strings.Contains(err.Error(), "NS records with that host already exist") {
		t.Errorf("error %v lacks the documented wording", err)
	}
	_, err = c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: id,
		Record: &dnsv1.Record{Name: "ns2.internal", Type: "AAAA", Content: "2001:db8::54", Proxied: true}})
	wantInvalid(t, err, "record.proxied")

	wantNS := []string{"ns1.internal.glue.test.", "ns2.internal.glue.test."}
	wantGlue := []string{
		"ns1.internal.glue.test. A 192.0.2.53", "ns1.internal.glue.test. AAAA 2001:db8::53", "ns2.internal.glue.test. A 192.0.2.54",
	}
	referral := func(name string, qtype uint16) func(string) error {
		return func(addr string) error {
			m, err := exchange(addr, name, qtype, false)
			if err != nil {
				return err
			}
			if m.Rcode != dns.RcodeSuccess || m.Authoritative || len(m.Answer) != 0 {
				return fmt.Errorf("%s %s: rcode %s aa=%v answer %v, want a referral (NOERROR, no AA, empty answer)",
					name, dns.TypeToString[qtype], dns.RcodeToString[m.Rcode], m.Authoritative, m.Answer)
			}
			if got := rdataOf(m.Ns); !sameSet(got, wantNS) {
				return fmt.Errorf("%s %s: authority %q, want NS %q", name, dns.TypeToString[qtype], got, wantNS)
			}
			var glue []string
			for _, rr := range m.Extra {
				if rr.Header().Rrtype == dns.TypeOPT {
					continue
				}
				glue = append(glue, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype]+" "+rdata(rr))
			}
			slices.Sort(glue)
			if !slices.Equal(glue, wantGlue) {
				return fmt.Errorf("%s %s: additional %q, want glue %q", name, dns.TypeToString[qtype], glue, wantGlue)
			}
			return nil
		}
	}
	c.eventually("referral with glue at the cut", referral("internal.glue.test.", dns.TypeA))
	runEdgeCases(t, c, []edgeCase{
		{"below the cut", referral("deep.internal.glue.test.", dns.TypeMX)},
		{"the glue name asked for A", referral("ns1.internal.glue.test.", dns.TypeA)},
		{"the glue name asked for AAAA", referral("ns1.internal.glue.test.", dns.TypeAAAA)},
	})

	for _, e := range c.edges {
		m := query(t, e.TCPAddr(), "ns2.internal.glue.test.", dns.TypeA, true)
		if m.Authoritative || len(m.Answer) != 0 || len(m.Extra) < 3 {
			t.Errorf("over TCP at %s: aa=%v answer %v additional %v, want the referral with glue", e.TCPAddr(), m.Authoritative, m.Answer, m.Extra)
		}
	}

	// Without the delegation the former glue is an ordinary record of the
	// zone, answered authoritatively.
	resp, err := c.records.ListRecords(c.ctx(), &dnsv1.ListRecordsRequest{ZoneId: id, PageSize: 100})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	for _, r := range resp.GetRecords() {
		if r.GetType() == "NS" {
			if _, err := c.records.DeleteRecord(c.ctx(), &dnsv1.DeleteRecordRequest{ZoneId: id, RecordId: r.GetId()}); err != nil {
				t.Fatalf("delete NS: %v", err)
			}
		}
	}
	c.eventually("former glue answered authoritatively", func(addr string) error {
		m, err := exchange(addr, "ns1.internal.glue.test.", dns.TypeA, false)
		if err != nil {
			return err
		}
		if !m.Authoritative || !sameSet(rdataOf(m.Answer), []string{"192.0.2.53"}) {
			return fmt.Errorf("aa=%v answer %v, want the A record with AA", m.Authoritative, m.Answer)
		}
		return nil
	})
}
