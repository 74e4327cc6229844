package e2e

// End-to-end tests of the answer-time rules (issue 3): every row of the
// decision table in edge/answer/README.md, driven through the gRPC API of a
// real control plane on real etcd and NATS, and asked of real edges over
// UDP. Row names (P1, E1, F4, ...) refer to that table.

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/zonegrid/zonegrid/controlplane/server"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// anycastFor is the part of a pool the edges give a zone: two consecutive
// addresses from a position set by the FNV-1a hash of the zone id, so that
// every edge answers a zone with the same addresses.
func anycastFor(zoneID string, pool []netip.Addr) []string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(zoneID))
	start := int(h.Sum64() % uint64(len(pool)))
	return []string{pool[start].String(), pool[(start+1)%len(pool)].String()}
}

// syntheticHTTPS is the RDATA of the HTTPS record a proxied name without one
// of its own answers with (P4).
func syntheticHTTPS(tb testing.TB, v4, v6 []string) string {
	tb.Helper()
	rr, err := dns.NewRR(`x. 300 IN HTTPS 1 . alpn="h3,h2" ipv4hint="` + v4[0] + "," + v4[1] + `" ipv6hint="` + v6[0] + "," + v6[1] + `"`)
	if err != nil {
		tb.Fatalf("build expected HTTPS: %v", err)
	}
	return rdata(rr)
}

// onEveryEdge runs check once on every edge; the caller has already waited
// for the data to arrive.
func onEveryEdge(t *testing.T, c *cluster, check func(string) error) {
	t.Helper()
	for _, e := range c.edges {
		if err := check(e.UDPAddr()); err != nil {
			t.Errorf("edge %s: %v", e.UDPAddr(), err)
		}
	}
}

type edgeCase struct {
	name  string
	check func(string) error
}

func runEdgeCases(t *testing.T, c *cluster, cases []edgeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { onEveryEdge(t, c, tc.check) })
	}
}

// wantInvalid checks that err is InvalidArgument naming field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %s (%v), want InvalidArgument", st.Code(), err)
	}
	if !hasFieldViolation(st, field) {
		t.Errorf("details %v do not name field %q", st.Details(), field)
	}
}

func (c *cluster) setEnforceDNSOnly(account string, on bool) {
	c.tb.Helper()
	if _, err := c.settings.UpdateAccountSettings(c.ctx(), &dnsv1.UpdateAccountSettingsRequest{
		AccountId:  account,
		Settings:   &dnsv1.AccountSettings{EnforceDnsOnly: on},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enforce_dns_only"}},
	}); err != nil {
		c.tb.Fatalf("set enforce_dns_only=%v on %s: %v", on, account, err)
	}
}

// markManaged sets meta.managed_by on a record the way another product of
// the platform does: through SetRecordManagedBy, which only the operator
// (the cluster's connection) may call.
func (c *cluster) markManaged(zoneID, recordID, by string) {
	c.tb.Helper()
	if _, err := c.records.SetRecordManagedBy(c.ctx(), &dnsv1.SetRecordManagedByRequest{ZoneId: zoneID, RecordId: recordID, ManagedBy: by}); err != nil {
		c.tb.Fatalf("mark record %s managed by %s: %v", recordID, by, err)
	}
}

// Proxied records are answered from the anycast pools, the same on every
// edge (P1-P4, P6), and the API shows and enforces proxy eligibility.
func TestProxiedRecordsAnswerFromTheAnycastPools(t *testing.T) {
	c := newCluster(t, 3)
	z := c.createZone("acme", "proxy.test", dnsv1.Plan_PLAN_FREE)
	id := z.GetId()
	www := c.createRecord(id, &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.1", Proxied: true, Ttl: 3600})
	txt := c.createRecord(id, &dnsv1.Record{Name: "www", Type: "TXT", Content: "hello"})
	c.createRecord(id, &dnsv1.Record{Name: "www", Type: "MX", Content: "mail.proxy.test", Priority: 10})
	c.createRecord(id, &dnsv1.Record{Name: "v6", Type: "AAAA", Content: "2001:db8:99::1", Proxied: true})
	c.createRecord(id, &dnsv1.Record{Name: "mixed", Type: "A", Content: "203.0.113.2", Ttl: 120})
	c.createRecord(id, &dnsv1.Record{Name: "mixed", Type: "A", Content: "203.0.113.3", Proxied: true})
	alias := c.createRecord(id, &dnsv1.Record{Name: "alias", Type: "CNAME", Content: "origin.example.net", Proxied: true})
	c.createRecord(id, &dnsv1.Record{Name: "own", Type: "A", Content: "203.0.113.4", Proxied: true})
	c.createRecord(id, &dnsv1.Record{Name: "own", Type: "HTTPS", Content: `1 . alpn="h2"`, Ttl: 600})
	c.createRecord(id, &dnsv1.Record{Name: "plain", Type: "A", Content: "203.0.113.5", Ttl: 120})
	// Records are published in order: once the last is answered
	// everywhere, all of them are.
	c.eventually("zone loaded", answerIs("plain.proxy.test.", dns.TypeA, dns.RcodeSuccess, "203.0.113.5"))

	v4, v6 := anycastFor(id, testAnycastV4), anycastFor(id, testAnycastV6)
	runEdgeCases(t, c, []edgeCase{
		{"P1 proxied A answers two IPv4 pool addresses with TTL 300", answerWith("www.proxy.test.", dns.TypeA, 300, v4...)},
		{"P1 AAAA at a proxied A name answers the IPv6 pool", answerWith("www.proxy.test.", dns.TypeAAAA, 300, v6...)},
		{"P1 proxied AAAA answers the IPv6 pool", answerWith("v6.proxy.test.", dns.TypeAAAA, 300, v6...)},
		{"P2 one proxied A of several makes the name proxied", answerWith("mixed.proxy.test.", dns.TypeA, 300, v4...)},
		{"P3 proxied CNAME answers A under the query name", answerWith("alias.proxy.test.", dns.TypeA, 300, v4...)},
		{"P3 proxied CNAME answers AAAA under the query name", answerWith("alias.proxy.test.", dns.TypeAAAA, 300, v6...)},
		{"P4 HTTPS is synthesized at a proxied name", answerWith("www.proxy.test.", dns.TypeHTTPS, 300, syntheticHTTPS(t, v4, v6))},
		{"P4 the zone's own HTTPS record wins", answerWith("own.proxy.test.", dns.TypeHTTPS, 600, `1 . alpn="h2"`)},
		{"P4 no HTTPS at a DNS-only name", isNODATA("plain.proxy.test.", dns.TypeHTTPS)},
		{"P6 TXT at a proxied name answered normally", answerWith("www.proxy.test.", dns.TypeTXT, 300, `"hello"`)},
		{"P6 MX at a proxied name answered normally", answerWith("www.proxy.test.", dns.TypeMX, 300, "10 mail.proxy.test.")},
		{"P6 CNAME query at a proxied CNAME shows the CNAME", answerWith("alias.proxy.test.", dns.TypeCNAME, 300, "origin.example.net.")},
		{"DNS-only A answers its origin address and TTL", answerWith("plain.proxy.test.", dns.TypeA, 120, "203.0.113.5")},
	})

	t.Run("proxiable is shown by the API", func(t *testing.T) {
		dkim := c.createRecord(id, &dnsv1.Record{Name: "k1._domainkey", Type: "CNAME", Content: "dkim2.mcsv.net"})
		for _, tc := range []struct {
			r    *dnsv1.Record
			want bool
		}{{www, true}, {alias, true}, {txt, false}, {dkim, false}} {
			if tc.r.GetProxiable() != tc.want {
				t.Errorf("created %s %s: proxiable %v, want %v", tc.r.GetType(), tc.r.GetName(), tc.r.GetProxiable(), tc.want)
			}
			got, err := c.records.GetRecord(c.ctx(), &dnsv1.GetRecordRequest{ZoneId: id, RecordId: tc.r.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetRecord().GetProxiable() != tc.want {
				t.Errorf("read %s %s: proxiable %v, want %v", tc.r.GetType(), tc.r.GetName(), got.GetRecord().GetProxiable(), tc.want)
			}
		}
		if www.GetTtl() != 1 {
			t.Errorf("proxied record stored with TTL %d, want 1 (automatic)", www.GetTtl())
		}
	})
	t.Run("proxied CNAME to a non-proxiable target is refused", func(t *testing.T) {
		for _, target := range []string{"dkim2.mcsv.net", "dkim.amazonses.com", "sel.dkim.amazonses.com", "tenant.onmicrosoft.com"} {
			_, err := c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: id, Record: &dnsv1.Record{
				Name: "refused", Type: "CNAME", Content: target, Proxied: true,
			}})
			wantInvalid(t, err, "record.proxied")
		}
	})
}

// A zone that is not active yet answers its proxied records as DNS-only
// (P5), and proxies them once activation succeeds.
func TestPendingZoneAnswersProxiedRecordsDNSOnly(t *testing.T) {
	up := newTestUpstream(t)
	c := newCluster(t, 2, withActivation("delegation", up.addr))
	z := c.createZone("acme", "pending.test", dnsv1.Plan_PLAN_FREE)
	if z.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
		t.Fatalf("zone created %s, want PENDING in delegation mode", z.GetStatus())
	}
	id := z.GetId()
	c.createRecord(id, &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.10", Proxied: true})
	c.createRecord(id, &dnsv1.Record{Name: "alias", Type: "CNAME", Content: "origin.example.net", Proxied: true})
	c.eventually("pending zone loaded", answerIs("alias.pending.test.", dns.TypeCNAME, dns.RcodeSuccess, "origin.example.net."))

	runEdgeCases(t, c, []edgeCase{
		{"P5 proxied A answers its origin address", answerWith("www.pending.test.", dns.TypeA, 300, "203.0.113.10")},
		{"P5 no pool AAAA for a proxied A", isNODATA("www.pending.test.", dns.TypeAAAA)},
		{"P5 no synthesized HTTPS", isNODATA("www.pending.test.", dns.TypeHTTPS)},
		{"P5 proxied CNAME is shown as a CNAME", answerIs("alias.pending.test.", dns.TypeA, dns.RcodeSuccess, "origin.example.net.")},
	})

	// Delegate the name to the assigned nameservers and activate.
	var ns []string
	for _, n := range z.GetNameServers() {
		ns = append(ns, "pending.test. 86400 IN NS "+n)
	}
	up.set(t, "pending.test.", dns.TypeNS, ns...)
	resp, err := c.zones.ActivationCheck(c.ctx(), &dnsv1.ActivationCheckRequest{ZoneId: id})
	if err != nil {
		t.Fatalf("activation check: %v", err)
	}
	if resp.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("after delegation: %s (%s), want ACTIVE", resp.GetZone().GetStatus(), resp.GetReason())
	}
	v4 := anycastFor(id, testAnycastV4)
	c.eventually("active zone proxies", answerWith("www.pending.test.", dns.TypeA, 300, v4...))
	c.eventually("active zone proxies the CNAME", answerWith("alias.pending.test.", dns.TypeA, 300, v4...))
}

// Enforce DNS-only, flipped through SettingsService, answers every proxied
// record of every zone of the account with its origin content (E1), Load
// Balancing records included, except the products 002 excludes (E2) and
// CNAMEs to a tunnel subdomain (E3), leaves other accounts alone, and
// turning it off restores the proxied answers.
func TestEnforceDNSOnlyFlipsEveryZoneOfTheAccount(t *testing.T) {
	c := newCluster(t, 2)
	one := c.createZone("acme", "one.test", dnsv1.Plan_PLAN_FREE)
	two := c.createZone("acme", "two.test", dnsv1.Plan_PLAN_FREE)
	other := c.createZone("globex", "three.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(one.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.21", Proxied: true})
	c.createRecord(one.GetId(), &dnsv1.Record{Name: "alias", Type: "CNAME", Content: "origin.example.net", Proxied: true})
	lb := c.createRecord(one.GetId(), &dnsv1.Record{Name: "lb", Type: "A", Content: "203.0.113.23", Proxied: true})
	c.markManaged(one.GetId(), lb.GetId(), "load_balancing")
	r2 := c.createRecord(one.GetId(), &dnsv1.Record{Name: "bucket", Type: "CNAME", Content: "public.r2-origin.example.net", Proxied: true})
	c.markManaged(one.GetId(), r2.GetId(), "r2")
	c.createRecord(one.GetId(), &dnsv1.Record{Name: "app", Type: "CNAME", Content: "6ff42ae2." + testTunnelDomain, Proxied: true})
	c.createRecord(two.GetId(), &dnsv1.Record{Name: "@", Type: "A", Content: "203.0.113.22", Proxied: true})
	four := c.createZone("acme", "four.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(four.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "www.one.test", Proxied: true})
	c.createRecord(other.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "203.0.113.24", Proxied: true})

	got, err := c.records.GetRecord(c.ctx(), &dnsv1.GetRecordRequest{ZoneId: one.GetId(), RecordId: lb.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRecord().GetMeta().GetManagedBy() != "load_balancing" {
		t.Fatalf("managed_by = %q after the store write", got.GetRecord().GetMeta().GetManagedBy())
	}

	proxied := []edgeCase{
		{"www.one.test proxied", answerWith("www.one.test.", dns.TypeA, 300, anycastFor(one.GetId(), testAnycastV4)...)},
		{"alias.one.test proxied", answerWith("alias.one.test.", dns.TypeA, 300, anycastFor(one.GetId(), testAnycastV4)...)},
		{"lb.one.test proxied", answerWith("lb.one.test.", dns.TypeA, 300, anycastFor(one.GetId(), testAnycastV4)...)},
		{"bucket.one.test proxied", answerWith("bucket.one.test.", dns.TypeA, 300, anycastFor(one.GetId(), testAnycastV4)...)},
		{"app.one.test proxied", answerWith("app.one.test.", dns.TypeA, 300, anycastFor(one.GetId(), testAnycastV4)...)},
		{"two.test proxied", answerWith("two.test.", dns.TypeA, 300, anycastFor(two.GetId(), testAnycastV4)...)},
		{"four.test apex CNAME proxied", answerWith("four.test.", dns.TypeA, 300, anycastFor(four.GetId(), testAnycastV4)...)},
		{"three.test of another account proxied", answerWith("www.three.test.", dns.TypeA, 300, anycastFor(other.GetId(), testAnycastV4)...)},
	}
	// The managed record was written last.
	c.eventually("managed record loaded", func(addr string) error {
		for _, tc := range proxied {
			if err := tc.check(addr); err != nil {
				return err
			}
		}
		return nil
	})

	c.setEnforceDNSOnly("acme", true)
	c.eventually("enforced in the second zone", answerWith("two.test.", dns.TypeA, 300, "203.0.113.22"))
	runEdgeCases(t, c, []edgeCase{
		{"E1 proxied A answers its origin address", answerWith("www.one.test.", dns.TypeA, 300, "203.0.113.21")},
		{"E1 no pool AAAA", isNODATA("www.one.test.", dns.TypeAAAA)},
		{"E1 no synthesized HTTPS", isNODATA("www.one.test.", dns.TypeHTTPS)},
		{"E1 proxied CNAME shows its target", answerIs("alias.one.test.", dns.TypeA, dns.RcodeSuccess, "origin.example.net.")},
		{"E1 every zone of the account", answerWith("two.test.", dns.TypeA, 300, "203.0.113.22")},
		{"E1 a proxied apex CNAME is still flattened (F1), onto the origin", answerWith("four.test.", dns.TypeA, 300, "203.0.113.21")},
		{"E1 a Load Balancing record is forced DNS-only too", answerWith("lb.one.test.", dns.TypeA, 300, "203.0.113.23")},
		{"E2 an R2 custom domain stays proxied", answerWith("bucket.one.test.", dns.TypeA, 300, anycastFor(one.GetId(), testAnycastV4)...)},
		{"E3 a CNAME to a tunnel subdomain stays proxied", answerWith("app.one.test.", dns.TypeA, 300, anycastFor(one.GetId(), testAnycastV4)...)},
		{"another account is not affected", answerWith("www.three.test.", dns.TypeA, 300, anycastFor(other.GetId(), testAnycastV4)...)},
	})

	c.setEnforceDNSOnly("acme", false)
	c.eventually("proxied answers restored", answerWith("two.test.", dns.TypeA, 300, anycastFor(two.GetId(), testAnycastV4)...))
	runEdgeCases(t, c, proxied)
}

// CNAME flattening (F1-F10): at the apex, with flatten_all_cnames, per
// record; targets in the zone, in another served zone, external (through
// the test upstream) and proxied; TTLs; dangling targets and loops.
func TestCNAMEFlattening(t *testing.T) {
	up := newTestUpstream(t)
	up.set(t, "www.upstream.example.", dns.TypeA,
		"www.upstream.example. 3600 IN CNAME edge.cdn.example.",
		"edge.cdn.example. 3600 IN A 198.51.100.7")
	up.set(t, "www.upstream.example.", dns.TypeAAAA,
		"www.upstream.example. 3600 IN CNAME edge.cdn.example.",
		"edge.cdn.example. 60 IN AAAA 2001:db8:51::7")
	c := newCluster(t, 2, withUpstreams(up.addr))

	target := c.createZone("acme", "target.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(target.GetId(), &dnsv1.Record{Name: "host", Type: "A", Content: "192.0.2.1", Ttl: 3600})
	c.createRecord(target.GetId(), &dnsv1.Record{Name: "host", Type: "AAAA", Content: "2001:db8::1", Ttl: 3600})
	c.createRecord(target.GetId(), &dnsv1.Record{Name: "web", Type: "CNAME", Content: "host.target.test", Ttl: 120})
	c.createRecord(target.GetId(), &dnsv1.Record{Name: "cdn", Type: "A", Content: "203.0.113.30", Proxied: true})

	inzone := c.createZone("acme", "inzone.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(inzone.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "web.inzone.test", Ttl: 600})
	c.createRecord(inzone.GetId(), &dnsv1.Record{Name: "web", Type: "CNAME", Content: "host.inzone.test", Ttl: 120})
	c.createRecord(inzone.GetId(), &dnsv1.Record{Name: "host", Type: "A", Content: "192.0.2.2", Ttl: 3600})

	cross := c.createZone("acme", "cross.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(cross.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "web.target.test", Ttl: 300})
	external := c.createZone("acme", "external.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(external.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "www.upstream.example", Ttl: 300})
	dangling := c.createZone("acme", "dangling.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(dangling.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "nothing.target.test"})
	onProxied := c.createZone("acme", "onproxied.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(onProxied.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "cdn.target.test", Ttl: 120})
	loop1 := c.createZone("acme", "loop1.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(loop1.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "loop2.test"})
	loop2 := c.createZone("acme", "loop2.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(loop2.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "loop1.test"})

	pro := c.createZone("acme", "pro.test", dnsv1.Plan_PLAN_PRO)
	c.createRecord(pro.GetId(), &dnsv1.Record{Name: "flat", Type: "CNAME", Content: "web.target.test", Ttl: 300,
		Settings: &dnsv1.RecordSettings{FlattenCname: true}})
	c.createRecord(pro.GetId(), &dnsv1.Record{Name: "plain", Type: "CNAME", Content: "web.target.test", Ttl: 300})

	all := c.createZone("acme", "all.test", dnsv1.Plan_PLAN_PRO)
	c.createRecord(all.GetId(), &dnsv1.Record{Name: "www", Type: "CNAME", Content: "web.target.test", Ttl: 300})
	c.createRecord(all.GetId(), &dnsv1.Record{Name: "a", Type: "CNAME", Content: "b.all.test"})
	c.createRecord(all.GetId(), &dnsv1.Record{Name: "b", Type: "CNAME", Content: "a.all.test"})
	c.eventually("CNAMEs of all.test not flattened yet", answerIs("www.all.test.", dns.TypeA, dns.RcodeSuccess, "web.target.test."))
	c.eventually("per-record flattening loaded", answerIs("plain.pro.test.", dns.TypeA, dns.RcodeSuccess, "web.target.test."))

	if _, err := c.settings.UpdateZoneSettings(c.ctx(), &dnsv1.UpdateZoneSettingsRequest{
		ZoneId: all.GetId(), Settings: &dnsv1.ZoneSettings{FlattenAllCnames: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"flatten_all_cnames"}},
	}); err != nil {
		t.Fatalf("set flatten_all_cnames: %v", err)
	}
	c.eventually("flatten_all_cnames applied", answerWith("www.all.test.", dns.TypeA, 120, "192.0.2.1"))

	runEdgeCases(t, c, []edgeCase{
		{"F1 apex CNAME with its target in the zone answers A, lowest TTL", answerWith("inzone.test.", dns.TypeA, 120, "192.0.2.2")},
		{"F8 apex CNAME whose chain has no AAAA answers NODATA", isNODATA("inzone.test.", dns.TypeAAAA)},
		{"F10 CNAME query at a flattened apex shows the CNAME", answerWith("inzone.test.", dns.TypeCNAME, 600, "web.inzone.test.")},
		{"F10 other types at a flattened apex are NODATA", isNODATA("inzone.test.", dns.TypeTXT)},
		{"F4 target in another served zone", answerWith("cross.test.", dns.TypeA, 120, "192.0.2.1")},
		{"F4 target in another served zone, AAAA", answerWith("cross.test.", dns.TypeAAAA, 120, "2001:db8::1")},
		{"F5 external target through the upstream, TTL of the CNAME", answerWith("external.test.", dns.TypeA, 300, "198.51.100.7")},
		{"F5/F9 external target, TTL lowest along the upstream chain", answerWith("external.test.", dns.TypeAAAA, 60, "2001:db8:51::7")},
		{"F6 flattened onto a proxied target answers the target zone's pool", answerWith("onproxied.test.", dns.TypeA, 300, anycastFor(target.GetId(), testAnycastV4)...)},
		{"F7 loop across zones answers NODATA", isNODATA("loop1.test.", dns.TypeA)},
		{"F7 loop inside a flatten-all zone answers NODATA", isNODATA("a.all.test.", dns.TypeA)},
		{"F8 dangling target answers NODATA with the SOA", isNODATA("dangling.test.", dns.TypeA)},
		{"F2 flatten_all_cnames flattens every CNAME", answerWith("www.all.test.", dns.TypeAAAA, 120, "2001:db8::1")},
		{"F3 flatten_cname flattens that record", answerWith("flat.pro.test.", dns.TypeA, 120, "192.0.2.1")},
		{"F3 a flattened non-apex CNAME has no MX", isNODATA("flat.pro.test.", dns.TypeMX)},
		{"a CNAME without flattening is shown", answerIs("plain.pro.test.", dns.TypeA, dns.RcodeSuccess, "web.target.test.")},
	})

	t.Run("flattening settings refused by the API", func(t *testing.T) {
		free := c.createZone("acme", "free.test", dnsv1.Plan_PLAN_FREE)
		flat := &dnsv1.RecordSettings{FlattenCname: true}
		for _, tc := range []struct {
			name   string
			zoneID string
			record *dnsv1.Record
		}{
			{"at the apex", pro.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "web.target.test", Settings: flat}},
			{"on a proxied record", pro.GetId(), &dnsv1.Record{Name: "px", Type: "CNAME", Content: "web.target.test", Proxied: true, Settings: flat}},
			{"when the zone flattens all CNAMEs", all.GetId(), &dnsv1.Record{Name: "more", Type: "CNAME", Content: "web.target.test", Settings: flat}},
			{"on the free plan", free.GetId(), &dnsv1.Record{Name: "www", Type: "CNAME", Content: "web.target.test", Settings: flat}},
			{"on a record that is not a CNAME", pro.GetId(), &dnsv1.Record{Name: "addr", Type: "A", Content: "192.0.2.9", Settings: flat}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: tc.zoneID, Record: tc.record})
				wantInvalid(t, err, "record.settings.flatten_cname")
			})
		}
		_, err := c.settings.UpdateZoneSettings(c.ctx(), &dnsv1.UpdateZoneSettingsRequest{
			ZoneId: free.GetId(), Settings: &dnsv1.ZoneSettings{FlattenAllCnames: true},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"flatten_all_cnames"}},
		})
		wantInvalid(t, err, "settings.flatten_all_cnames")
	})
}

// At a flattened apex the types with records of their own (MX, TXT) and
// those from the zone header (NS, SOA) are answered from them (F10): the
// source documents' reason for apex flattening (003) is an apex CNAME next to
// MX records.
func TestFlattenedApexAnswersItsOwnRecords(t *testing.T) {
	c := newCluster(t, 1)
	z := c.createZone("acme", "mail.test", dnsv1.Plan_PLAN_FREE)
	id := z.GetId()
	c.createRecord(id, &dnsv1.Record{Name: "@", Type: "MX", Content: "mx.mail.test", Priority: 10})
	c.createRecord(id, &dnsv1.Record{Name: "@", Type: "TXT", Content: "v=spf1 -all"})
	c.createRecord(id, &dnsv1.Record{Name: "mx", Type: "A", Content: "192.0.2.25"})
	c.createRecord(id, &dnsv1.Record{Name: "host", Type: "A", Content: "192.0.2.80", Ttl: 600})
	apexCNAME := &dnsv1.Record{Name: "@", Type: "CNAME", Content: "host.mail.test", Ttl: 600}
	t.Run("API accepts a CNAME at an apex that has MX and TXT", func(t *testing.T) {
		if _, err := c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: id, Record: apexCNAME}); err != nil {
			t.Fatalf("apex CNAME next to MX and TXT refused: %v", err)
		}
	})
	c.eventually("apex CNAME loaded", answerIs("mail.test.", dns.TypeCNAME, dns.RcodeSuccess, "host.mail.test."))

	runEdgeCases(t, c, []edgeCase{
		{"F1 A at the apex is flattened", answerWith("mail.test.", dns.TypeA, 600, "192.0.2.80")},
		{"F10 MX from its own record", answerWith("mail.test.", dns.TypeMX, 300, "10 mx.mail.test.")},
		{"F10 TXT from its own record", answerWith("mail.test.", dns.TypeTXT, 300, `"v=spf1 -all"`)},
		{"F10 NS from the assigned nameservers", answerWith("mail.test.", dns.TypeNS, 86400, z.GetNameServers()...)},
		{"F10 SOA from the zone header", func(addr string) error {
			m, err := exchange(addr, "mail.test.", dns.TypeSOA, false)
			if err != nil {
				return err
			}
			if len(m.Answer) != 1 || m.Answer[0].Header().Rrtype != dns.TypeSOA || m.Answer[0].(*dns.SOA).Ns != z.GetNameServers()[0] {
				return errorf("SOA answer %v, want the zone's SOA naming %s", m.Answer, z.GetNameServers()[0])
			}
			return nil
		}},
		{"F10 other types at the flattened apex are NODATA", isNODATA("mail.test.", dns.TypeCAA)},
	})
}

// An external flattening target keeps being answered from the expired
// cache entry when the upstream SERVFAILs or is slow (serve-stale), and a
// target never resolved answers SERVFAIL when the upstream fails (F11).
func TestFlatteningServesStaleAnswers(t *testing.T) {
	up := newTestUpstream(t)
	up.set(t, "app.upstream.example.", dns.TypeA, "app.upstream.example. 1 IN A 198.51.100.8")
	c := newCluster(t, 1, withUpstreams(up.addr))
	z := c.createZone("acme", "stale.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "app.upstream.example", Ttl: 300})
	never := c.createZone("acme", "never.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(never.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "down.upstream.example"})
	c.eventually("resolved through the upstream", answerWith("stale.test.", dns.TypeA, 1, "198.51.100.8"))
	edge := c.edges[0].UDPAddr()

	// Waiting out the upstream's TTL of 1 s is the scenario, not a speed
	// claim.
	time.Sleep(1500 * time.Millisecond)
	up.setServfail(true)
	t.Run("expired entry served while the upstream SERVFAILs", func(t *testing.T) {
		asked := up.queries.Load()
		if err := answerIs("stale.test.", dns.TypeA, dns.RcodeSuccess, "198.51.100.8")(edge); err != nil {
			t.Error(err)
		}
		if up.queries.Load() == asked {
			t.Error("the upstream was not asked: the entry was still fresh, serve-stale not exercised")
		}
	})
	t.Run("F11 nothing cached and the upstream fails: SERVFAIL", func(t *testing.T) {
		if err := answerIs("never.test.", dns.TypeA, dns.RcodeServerFailure)(edge); err != nil {
			t.Error(err)
		}
	})

	// Slow: the upstream now has a new address but answers after the
	// resolver stopped waiting (StaleAfter is 400 ms, its timeout 2 s).
	up.set(t, "app.upstream.example.", dns.TypeA, "app.upstream.example. 1 IN A 198.51.100.9")
	up.setDelay(1200 * time.Millisecond)
	up.setServfail(false)
	t.Run("expired entry served while the upstream is slow", func(t *testing.T) {
		if err := answerIs("stale.test.", dns.TypeA, dns.RcodeSuccess, "198.51.100.8")(edge); err != nil {
			t.Error(err)
		}
	})
	up.setDelay(0)
	c.eventually("the background refresh brings the new address", answerIs("stale.test.", dns.TypeA, dns.RcodeSuccess, "198.51.100.9"))
}

// The non-proxiable CNAME target list can be configured with a file; it
// replaces the built-in list, and a bad file stops the control plane.
func TestNonProxiableListFromFile(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "non-proxiable.txt")
	if err := os.WriteFile(list, []byte("# partners that verify by CNAME\nexact verify.partner.test\nsubdomain dkim.partner.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 1, withNonProxiableFile(list))
	z := c.createZone("acme", "np.test", dnsv1.Plan_PLAN_FREE)
	for _, target := range []string{"verify.partner.test", "s1.dkim.partner.test"} {
		_, err := c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(), Record: &dnsv1.Record{
			Name: "refused", Type: "CNAME", Content: target, Proxied: true,
		}})
		wantInvalid(t, err, "record.proxied")
	}
	shown := c.createRecord(z.GetId(), &dnsv1.Record{Name: "v", Type: "CNAME", Content: "verify.partner.test"})
	if shown.GetProxiable() {
		t.Errorf("CNAME to a listed target shown proxiable")
	}
	// Not on the configured list any more, and "subdomain" spares the name
	// itself.
	for i, target := range []string{"dkim2.mcsv.net", "dkim.partner.test"} {
		r := c.createRecord(z.GetId(), &dnsv1.Record{Name: fmt.Sprintf("ok%d", i), Type: "CNAME", Content: target, Proxied: true})
		if !r.GetProxied() || !r.GetProxiable() {
			t.Errorf("CNAME to %s: proxied %v proxiable %v, want both", target, r.GetProxied(), r.GetProxiable())
		}
	}

	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("exact\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := c.cpCfg
	cfg.NonProxiableFile = bad
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := server.New(ctx, cfg, c.log)
	if err == nil {
		s.Stop()
		t.Fatal("control plane started with a malformed non-proxiable list")
	}
	if !strings.Contains(err.Error(), "non-proxiable list") || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("error %q does not name the list and the line", err)
	}
}
