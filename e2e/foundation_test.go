package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// A record created, updated and deleted through the API is answered
// accordingly by every edge.
func TestRecordLifecycleReachesEveryEdge(t *testing.T) {
	c := newCluster(t, 2)
	z := c.createZone("acme", "Example.COM", dnsv1.Plan_PLAN_FREE)
	if z.GetName() != "example.com." {
		t.Fatalf("zone name = %q, want normalized example.com.", z.GetName())
	}
	if len(z.GetNameServers()) != 2 {
		t.Fatalf("zone has %d nameservers, want 2", len(z.GetNameServers()))
	}

	r := c.createRecord(z.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1", Ttl: 120})
	c.eventually("created record answered", answerIs("www.example.com.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"))

	if _, err := c.records.UpdateRecord(c.ctx(), &dnsv1.UpdateRecordRequest{
		ZoneId: z.GetId(), RecordId: r.GetId(),
		Record: &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.2", Ttl: 120},
	}); err != nil {
		t.Fatalf("update: %v", err)
	}
	c.eventually("updated record answered", answerIs("www.example.com.", dns.TypeA, dns.RcodeSuccess, "192.0.2.2"))

	if _, err := c.records.PatchRecord(c.ctx(), &dnsv1.PatchRecordRequest{
		ZoneId: z.GetId(), RecordId: r.GetId(),
		Record:     &dnsv1.Record{Content: "192.0.2.3"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"content"}},
	}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	c.eventually("patched record answered", answerIs("www.example.com.", dns.TypeA, dns.RcodeSuccess, "192.0.2.3"))

	if _, err := c.records.DeleteRecord(c.ctx(), &dnsv1.DeleteRecordRequest{ZoneId: z.GetId(), RecordId: r.GetId()}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	c.eventually("deleted record gone", answerIs("www.example.com.", dns.TypeA, dns.RcodeNameError))

	if _, err := c.zones.DeleteZone(c.ctx(), &dnsv1.DeleteZoneRequest{ZoneId: z.GetId()}); err != nil {
		t.Fatalf("delete zone: %v", err)
	}
	// Deleted is answered until the purge (docs/ZONE_LIFECYCLE.md); the
	// purge timer's write is made here directly.
	if _, err := c.cp.Store().PurgeZone(c.ctx(), z.GetId()); err != nil {
		t.Fatalf("purge zone: %v", err)
	}
	c.eventually("purged zone refused", answerIs("example.com.", dns.TypeSOA, dns.RcodeRefused))
}

// The authoritative behaviours of the foundation issue, over the whole path.
func TestAuthoritativeAnswers(t *testing.T) {
	c := newCluster(t, 1)
	z := c.createZone("acme", "example.org", dnsv1.Plan_PLAN_FREE)
	id := z.GetId()
	for _, r := range []*dnsv1.Record{
		{Name: "@", Type: "A", Content: "192.0.2.1"},
		{Name: "@", Type: "MX", Content: "mail.example.org", Priority: 10},
		{Name: "@", Type: "TXT", Content: "v=spf1 -all"},
		{Name: "www", Type: "CNAME", Content: "web.example.org"},
		{Name: "web", Type: "CNAME", Content: "host.example.org"},
		{Name: "host", Type: "AAAA", Content: "2001:DB8:0:0::1"},
		{Name: "*", Type: "A", Content: "192.0.2.99"},
		{Name: "specific", Type: "TXT", Content: "here"},
		// No address records may sit at or below a delegation (the
		// delegation rule), so the delegation's nameserver is a sibling.
		{Name: "sub", Type: "NS", Content: "ns-sub.example.org"},
		{Name: "ns-sub", Type: "A", Content: "192.0.2.53"},
		{Name: "_sip._tcp", Type: "SRV", Data: &dnsv1.RecordData{Data: &dnsv1.RecordData_Srv{Srv: &dnsv1.SRVData{Priority: 1, Weight: 2, Port: 5060, Target: "host.example.org"}}}},
	} {
		c.createRecord(id, r)
	}
	edge := c.edges[0].UDPAddr()
	// The SRV record was written last: once it is answered, all are.
	c.eventually("zone loaded", answerIs("_sip._tcp.example.org.", dns.TypeSRV, dns.RcodeSuccess, "1 2 5060 host.example.org."))

	t.Run("CNAME chain inside the zone", func(t *testing.T) {
		m := query(t, edge, "WWW.Example.Org", dns.TypeAAAA, false)
		if got := m.Question[0].Name; got != "WWW.Example.Org." {
			t.Errorf("question echoed as %q, want the case as asked", got)
		}
		// Names compare without case (RFC 4343): labels the answer
		// compresses to the question's take its spelling, as NSD's and
		// Knot's answers do (edge/dnsserver/README.md, packed-answer cache).
		want := []string{"web.example.org.", "host.example.org.", "2001:db8::1"}
		got := rdataOf(m.Answer)
		for i := range got {
			got[i] = strings.ToLower(got[i])
		}
		if !sameSet(got, want) || !m.Authoritative {
			t.Errorf("answer %q (aa=%v), want %q with AA", got, m.Authoritative, want)
		}
	})
	t.Run("wildcard answers under the query name", func(t *testing.T) {
		m := query(t, edge, "anything.example.org", dns.TypeA, false)
		if len(m.Answer) != 1 || m.Answer[0].Header().Name != "anything.example.org." || rdata(m.Answer[0]) != "192.0.2.99" {
			t.Errorf("wildcard answer = %v", m.Answer)
		}
		m = query(t, edge, "deep.er.example.org", dns.TypeA, false)
		if len(m.Answer) != 1 || rdata(m.Answer[0]) != "192.0.2.99" {
			t.Errorf("wildcard at depth answer = %v", m.Answer)
		}
	})
	t.Run("a specific name terminates the wildcard", func(t *testing.T) {
		m := query(t, edge, "specific.example.org", dns.TypeA, false)
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 {
			t.Errorf("specific name A: rcode %s answer %v, want NODATA", dns.RcodeToString[m.Rcode], m.Answer)
		}
		m = query(t, edge, "below.specific.example.org", dns.TypeA, false)
		if m.Rcode != dns.RcodeNameError {
			t.Errorf("below specific: rcode %s, want NXDOMAIN", dns.RcodeToString[m.Rcode])
		}
	})
	t.Run("delegation gives a referral with glue", func(t *testing.T) {
		m := query(t, edge, "host.sub.example.org", dns.TypeA, false)
		if m.Authoritative || len(m.Answer) != 0 || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeNS {
			t.Fatalf("referral = aa:%v answer:%v ns:%v", m.Authoritative, m.Answer, m.Ns)
		}
		if len(m.Extra) < 1 || rdataOf(m.Extra)[0] != "192.0.2.53" {
			t.Errorf("glue = %v", m.Extra)
		}
	})
	t.Run("NXDOMAIN and NODATA carry the SOA", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			qtype uint16
			rcode int
		}{
			{"nope.specific.example.org", dns.TypeA, dns.RcodeNameError},
			{"host.example.org", dns.TypeMX, dns.RcodeSuccess},
		} {
			m := query(t, edge, tc.name, tc.qtype, false)
			if m.Rcode != tc.rcode || len(m.Answer) != 0 || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("%s: rcode %s answer %v ns %v", tc.name, dns.RcodeToString[m.Rcode], m.Answer, m.Ns)
				continue
			}
			soa := m.Ns[0].(*dns.SOA)
			if soa.Hdr.Ttl > soa.Minttl {
				t.Errorf("%s: negative TTL %d above SOA minimum %d", tc.name, soa.Hdr.Ttl, soa.Minttl)
			}
		}
	})
	t.Run("apex SOA and NS come from the assigned nameservers", func(t *testing.T) {
		m := query(t, edge, "example.org", dns.TypeNS, false)
		if !sameSet(rdataOf(m.Answer), z.GetNameServers()) {
			t.Errorf("NS = %v, want %v", rdataOf(m.Answer), z.GetNameServers())
		}
		m = query(t, edge, "example.org", dns.TypeSOA, false)
		if len(m.Answer) != 1 || m.Answer[0].(*dns.SOA).Ns != z.GetNameServers()[0] {
			t.Errorf("SOA = %v", m.Answer)
		}
	})
	t.Run("names outside every zone are refused", func(t *testing.T) {
		if m := query(t, edge, "example.net", dns.TypeA, false); m.Rcode != dns.RcodeRefused {
			t.Errorf("rcode %s, want REFUSED", dns.RcodeToString[m.Rcode])
		}
	})
	t.Run("ANY is answered minimally", func(t *testing.T) {
		m := query(t, edge, "example.org", dns.TypeANY, false)
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
			t.Fatalf("ANY: rcode %s answer %v", dns.RcodeToString[m.Rcode], m.Answer)
		}
		first := m.Answer[0].Header().Rrtype
		for _, rr := range m.Answer {
			if rr.Header().Rrtype != first {
				t.Errorf("ANY answered with more than one RRset: %v", m.Answer)
				break
			}
		}
	})
	t.Run("SRV and MX over TCP", func(t *testing.T) {
		m := query(t, c.edges[0].TCPAddr(), "_sip._tcp.example.org", dns.TypeSRV, true)
		if got := rdataOf(m.Answer); !sameSet(got, []string{"1 2 5060 host.example.org."}) {
			t.Errorf("SRV = %q", got)
		}
		m = query(t, c.edges[0].TCPAddr(), "example.org", dns.TypeMX, true)
		if got := rdataOf(m.Answer); !sameSet(got, []string{"10 mail.example.org."}) {
			t.Errorf("MX = %q", got)
		}
	})
}

// A response larger than the client's UDP buffer is truncated with TC set and
// comes whole over TCP.
func TestTruncationAndTCPFallback(t *testing.T) {
	c := newCluster(t, 1)
	z := c.createZone("acme", "big.test", dnsv1.Plan_PLAN_FREE)
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	var want []string
	for i := 0; i < 12; i++ {
		content := string(long[:200+i])
		c.createRecord(z.GetId(), &dnsv1.Record{Name: "txt", Type: "TXT", Content: content})
		want = append(want, content)
	}
	c.eventually("TXT loaded", func(addr string) error {
		m, err := exchange(c.edges[0].TCPAddr(), "txt.big.test.", dns.TypeTXT, true)
		if err != nil {
			return err
		}
		if len(m.Answer) != len(want) {
			return errorf("%d TXT answered, want %d", len(m.Answer), len(want))
		}
		return nil
	})
	q := new(dns.Msg)
	q.SetQuestion("txt.big.test.", dns.TypeTXT)
	q.SetEdns0(1232, false)
	m, _, err := (&dns.Client{}).Exchange(q, c.edges[0].UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	if !m.Truncated {
		t.Errorf("UDP answer of %d TXT not truncated", len(m.Answer))
	}
	noEDNS := new(dns.Msg)
	noEDNS.SetQuestion("txt.big.test.", dns.TypeTXT)
	m, _, err = (&dns.Client{UDPSize: 512}).Exchange(noEDNS, c.edges[0].UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	if !m.Truncated || m.Len() > 512 {
		t.Errorf("without EDNS: truncated=%v len=%d, want TC and ≤512", m.Truncated, m.Len())
	}
}

// Invalid input is refused with InvalidArgument naming the field, and leaves
// nothing behind.
func TestInvalidRecordsChangeNothing(t *testing.T) {
	c := newCluster(t, 1)
	z := c.createZone("acme", "example.com", dnsv1.Plan_PLAN_FREE)
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "sub", Type: "NS", Content: "ns.elsewhere.net"})
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "alias", Type: "CNAME", Content: "target.example.net"})

	for _, tc := range []struct {
		name   string
		record *dnsv1.Record
		field  string
	}{
		{"IPv4 not dotted quad", &dnsv1.Record{Name: "a", Type: "A", Content: "1.2.3"}, "record.content"},
		{"IPv6 in an A record", &dnsv1.Record{Name: "a", Type: "A", Content: "2001:db8::1"}, "record.content"},
		{"label too long", &dnsv1.Record{Name: string(make64('x')), Type: "A", Content: "192.0.2.1"}, "record.name"},
		{"name outside the zone", &dnsv1.Record{Name: "www.other.net.", Type: "A", Content: "192.0.2.1"}, "record.name"},
		{"TTL below the minimum", &dnsv1.Record{Name: "a", Type: "A", Content: "192.0.2.1", Ttl: 59}, "record.ttl"},
		{"TXT too long", &dnsv1.Record{Name: "t", Type: "TXT", Content: string(makeN('t', 2049))}, "record.content"},
		{"MX cannot be proxied", &dnsv1.Record{Name: "m", Type: "MX", Content: "mx.example.com", Proxied: true}, "record.proxied"},
		{"A below a delegation", &dnsv1.Record{Name: "host.sub", Type: "A", Content: "192.0.2.1"}, "record.name"},
		{"record next to a CNAME", &dnsv1.Record{Name: "alias", Type: "TXT", Content: "x"}, "record.name"},
		{"unknown type", &dnsv1.Record{Name: "a", Type: "BOGUS", Content: "x"}, "record.type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(), Record: tc.record})
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code = %s (%v), want InvalidArgument", st.Code(), err)
			}
			if !hasFieldViolation(st, tc.field) {
				t.Errorf("details %v do not name field %q", st.Details(), tc.field)
			}
		})
	}
	resp, err := c.records.ListRecords(c.ctx(), &dnsv1.ListRecordsRequest{ZoneId: z.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetRecords()); n != 2 {
		t.Errorf("zone holds %d records after refused writes, want 2", n)
	}
	if _, err := c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: "nope", Record: &dnsv1.Record{Name: "a", Type: "A", Content: "192.0.2.1"}}); status.Code(err) != codes.NotFound {
		t.Errorf("record in a missing zone: %v, want NotFound", err)
	}
}

func hasFieldViolation(st *status.Status, field string) bool {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return true
				}
			}
		}
	}
	return false
}

func make64(c byte) []byte { return makeN(c, 64) }

func makeN(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

// An edge started after the zones exist loads every snapshot, and a control
// plane restarted on the same etcd resumes publishing.
func TestLateEdgeAndControlPlaneRestart(t *testing.T) {
	c := newCluster(t, 1)
	var zones []*dnsv1.Zone
	for _, name := range []string{"one.test", "two.test", "three.test"} {
		z := c.createZone("acme", name, dnsv1.Plan_PLAN_FREE)
		c.createRecord(z.GetId(), &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.7"})
		zones = append(zones, z)
	}
	c.eventually("zones loaded", answerIs("three.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.7"))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	late := c.addEdge(ctx)
	for _, name := range []string{"one.test.", "two.test.", "three.test."} {
		if err := answerIs(name, dns.TypeA, dns.RcodeSuccess, "192.0.2.7")(late.UDPAddr()); err != nil {
			t.Errorf("late edge right after ready: %v", err)
		}
	}

	c.restartControlPlane()
	c.createRecord(zones[0].GetId(), &dnsv1.Record{Name: "after", Type: "A", Content: "192.0.2.8"})
	c.eventually("write after restart published", answerIs("after.one.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.8"))
}

// The same zone name in two accounts: one is served, and a second account's
// zone gets its own nameservers.
func TestSameZoneInTwoAccounts(t *testing.T) {
	c := newCluster(t, 1)
	a := c.createZone("alpha", "shared.test", dnsv1.Plan_PLAN_FREE)
	b := c.createZone("beta", "shared.test", dnsv1.Plan_PLAN_FREE)
	if _, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: "alpha", Name: "SHARED.test."}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("second shared.test in one account: %v, want AlreadyExists", err)
	}
	if sameSet(a.GetNameServers(), b.GetNameServers()) {
		t.Errorf("both accounts got nameservers %v", a.GetNameServers())
	}
	active := 0
	for _, z := range []*dnsv1.Zone{a, b} {
		got, err := c.zones.GetZone(c.ctx(), &dnsv1.GetZoneRequest{ZoneId: z.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetZone().GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d active zones named shared.test, want 1", active)
	}
	c.createRecord(a.GetId(), &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.1"})
	c.createRecord(b.GetId(), &dnsv1.Record{Name: "@", Type: "A", Content: "192.0.2.2"})
	c.eventually("active account's zone served", answerIs("shared.test.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"))
	// An account's zones share one pair of nameservers where possible.
	other := c.createZone("alpha", "other.test", dnsv1.Plan_PLAN_FREE)
	if !sameSet(other.GetNameServers(), a.GetNameServers()) {
		t.Errorf("account alpha got %v then %v, want the same pair", a.GetNameServers(), other.GetNameServers())
	}
}
