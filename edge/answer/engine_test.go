package answer

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

const exampleZone = `
@        3600 IN NS  ns.user-supplied.net.
@        IN MX  10 mail
@        IN TXT "v=spf1 -all"
www      IN A    192.0.2.1
www      IN AAAA 2001:db8::1
mail     IN A    192.0.2.2
*        IN TXT  "wild"
*        IN A    192.0.2.99
sub1     IN TXT  "specific"
a.b.ent  IN A    192.0.2.3
alias    IN CNAME www
chain1   120 IN CNAME chain2
chain2   IN CNAME www
loop1    IN CNAME loop2
loop2    IN CNAME loop1
ext      IN CNAME target.elsewhere.net.
dangling IN CNAME nothere.sub1
child    IN NS   ns1.child
child    IN NS   ns.outside.net.
child    IN DS   12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns1.child IN A   192.0.2.53
x.*.lit  IN A    192.0.2.77
*.w2     IN CNAME www
`

func newEngine(tb testing.TB, zones ...*snapshot.Zone) (*Engine, *zonecache.Set, *zonecache.Accounts) {
	tb.Helper()
	set := zonecache.NewSet()
	for _, s := range zones {
		z, err := zonecache.Build(s)
		if err != nil {
			tb.Fatalf("build %s: %v", s.GetHeader().GetName(), err)
		}
		set.Put(z)
	}
	acc := zonecache.NewAccounts()
	return New(Config{
		Zones: set, Accounts: acc,
		AnycastIPv4: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("192.0.2.12")},
		AnycastIPv6: []netip.Addr{netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::11"), netip.MustParseAddr("2001:db8::12")},
	}), set, acc
}

func ask(e *Engine, name string, qtype uint16) *dns.Msg {
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	resp := new(dns.Msg)
	resp.SetReply(req)
	e.Answer(context.Background(), req.Question[0], resp)
	return resp
}

func rrStrings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	slices.Sort(out)
	return out
}

type want struct {
	rcode  int
	aa     bool
	answer []string
	ns     []string
	extra  []string
}

func check(t *testing.T, resp *dns.Msg, w want) {
	t.Helper()
	if resp.Rcode != w.rcode {
		t.Errorf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[w.rcode])
	}
	if resp.Authoritative != w.aa {
		t.Errorf("aa = %v, want %v", resp.Authoritative, w.aa)
	}
	slices.Sort(w.answer)
	slices.Sort(w.ns)
	slices.Sort(w.extra)
	if got := rrStrings(resp.Answer); !slices.Equal(got, w.answer) {
		t.Errorf("answer =\n  %q\nwant\n  %q", got, w.answer)
	}
	if got := rrStrings(resp.Ns); !slices.Equal(got, w.ns) {
		t.Errorf("authority =\n  %q\nwant\n  %q", got, w.ns)
	}
	if got := rrStrings(resp.Extra); !slices.Equal(got, w.extra) {
		t.Errorf("additional =\n  %q\nwant\n  %q", got, w.extra)
	}
}

const negSOA = "example.com. 1800 IN SOA ns1.zonegrid.test. dns.zonegrid.test. 7 10000 2400 604800 1800"

func TestAnswerAuthoritative(t *testing.T) {
	e, _, _ := newEngine(t, zonetest.Zone(t, zonetest.Header("example.com.", 7), exampleZone))
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		{"exact match", "www.example.com.", dns.TypeA, want{aa: true, answer: []string{"www.example.com. 300 IN A 192.0.2.1"}}},
		{"exact match is case-insensitive", "WwW.ExAmPle.COM.", dns.TypeAAAA, want{aa: true, answer: []string{"www.example.com. 300 IN AAAA 2001:db8::1"}}},
		{"nodata carries the soa with negative ttl", "www.example.com.", dns.TypeMX, want{aa: true, ns: []string{negSOA}}},
		{"nxdomain below a specific name", "x.sub1.example.com.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{negSOA}}},
		{"specific name is not wildcarded for other types", "sub1.example.com.", dns.TypeA, want{aa: true, ns: []string{negSOA}}},
		{"wildcard synthesizes under the query name", "nothing.example.com.", dns.TypeTXT, want{aa: true, answer: []string{`nothing.example.com. 300 IN TXT "wild"`}}},
		{"wildcard covers deeper labels", "a.b.c.example.com.", dns.TypeA, want{aa: true, answer: []string{"a.b.c.example.com. 300 IN A 192.0.2.99"}}},
		{"wildcard nodata for a missing type", "nothing.example.com.", dns.TypeMX, want{aa: true, ns: []string{negSOA}}},
		{"empty non-terminal is nodata", "ent.example.com.", dns.TypeA, want{aa: true, ns: []string{negSOA}}},
		{"empty non-terminal stops the wildcard", "zz.ent.example.com.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{negSOA}}},
		{"wildcard still applies beside a specific name", "deeper.label.sub2.example.com.", dns.TypeA, want{aa: true, answer: []string{"deeper.label.sub2.example.com. 300 IN A 192.0.2.99"}}},
		{"asterisk inside a name is literal", "x.*.lit.example.com.", dns.TypeA, want{aa: true, answer: []string{"x.*.lit.example.com. 300 IN A 192.0.2.77"}}},
		{"asterisk inside a name matches nothing else", "x.y.lit.example.com.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true, ns: []string{negSOA}}},
		{"wildcard query name itself matches exactly", "*.example.com.", dns.TypeTXT, want{aa: true, answer: []string{`*.example.com. 300 IN TXT "wild"`}}},
		{"cname followed in zone", "alias.example.com.", dns.TypeA, want{aa: true, answer: []string{
			"alias.example.com. 300 IN CNAME www.example.com.", "www.example.com. 300 IN A 192.0.2.1"}}},
		{"cname chain", "chain1.example.com.", dns.TypeAAAA, want{aa: true, answer: []string{
			"chain1.example.com. 120 IN CNAME chain2.example.com.", "chain2.example.com. 300 IN CNAME www.example.com.", "www.example.com. 300 IN AAAA 2001:db8::1"}}},
		{"cname query returns the cname only", "alias.example.com.", dns.TypeCNAME, want{aa: true, answer: []string{"alias.example.com. 300 IN CNAME www.example.com."}}},
		{"cname loop stops", "loop1.example.com.", dns.TypeA, want{aa: true, answer: []string{
			"loop1.example.com. 300 IN CNAME loop2.example.com.", "loop2.example.com. 300 IN CNAME loop1.example.com."}}},
		{"cname out of zone ends the chain", "ext.example.com.", dns.TypeA, want{aa: true, answer: []string{"ext.example.com. 300 IN CNAME target.elsewhere.net."}}},
		{"cname to a missing name is nxdomain", "dangling.example.com.", dns.TypeA, want{rcode: dns.RcodeNameError, aa: true,
			answer: []string{"dangling.example.com. 300 IN CNAME nothere.sub1.example.com."}, ns: []string{negSOA}}},
		{"wildcard cname", "q.w2.example.com.", dns.TypeA, want{aa: true, answer: []string{
			"q.w2.example.com. 300 IN CNAME www.example.com.", "www.example.com. 300 IN A 192.0.2.1"}}},
		{"referral at the cut", "child.example.com.", dns.TypeA, want{
			ns:    []string{"child.example.com. 300 IN NS ns1.child.example.com.", "child.example.com. 300 IN NS ns.outside.net."},
			extra: []string{"ns1.child.example.com. 300 IN A 192.0.2.53"}}},
		{"referral below the cut", "deep.child.example.com.", dns.TypeMX, want{
			ns:    []string{"child.example.com. 300 IN NS ns1.child.example.com.", "child.example.com. 300 IN NS ns.outside.net."},
			extra: []string{"ns1.child.example.com. 300 IN A 192.0.2.53"}}},
		{"glue name itself is referred", "ns1.child.example.com.", dns.TypeA, want{
			ns:    []string{"child.example.com. 300 IN NS ns1.child.example.com.", "child.example.com. 300 IN NS ns.outside.net."},
			extra: []string{"ns1.child.example.com. 300 IN A 192.0.2.53"}}},
		{"ds at the cut answered by the parent", "child.example.com.", dns.TypeDS, want{aa: true, answer: []string{
			"child.example.com. 300 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}}},
		{"apex soa from the header", "example.com.", dns.TypeSOA, want{aa: true, answer: []string{
			"example.com. 3600 IN SOA ns1.zonegrid.test. dns.zonegrid.test. 7 10000 2400 604800 1800"}}},
		{"apex ns from the header, user ns ignored", "example.com.", dns.TypeNS, want{aa: true, answer: []string{
			"example.com. 86400 IN NS ns1.zonegrid.test.", "example.com. 86400 IN NS ns2.zonegrid.test."}}},
		{"apex mx", "example.com.", dns.TypeMX, want{aa: true, answer: []string{"example.com. 300 IN MX 10 mail.example.com."}}},
		{"name outside every zone is refused", "www.example.org.", dns.TypeA, want{rcode: dns.RcodeRefused}},
		{"parent of a zone is refused", "com.", dns.TypeA, want{rcode: dns.RcodeRefused}},
		{"any is answered minimally", "www.example.com.", dns.TypeANY, want{aa: true, answer: []string{`www.example.com. 3789 IN HINFO "RFC8482" ""`}}},
		{"any at a missing name is nxdomain", "nope.sub1.example.com.", dns.TypeANY, want{rcode: dns.RcodeNameError, aa: true, ns: []string{negSOA}}},
		{"zone transfer refused on the query path", "example.com.", dns.TypeAXFR, want{rcode: dns.RcodeRefused}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, ask(e, tt.qname, tt.qtype), tt.want)
		})
	}
}

func TestAnswerPicksLongestZone(t *testing.T) {
	parent := zonetest.Zone(t, zonetest.Header("example.com.", 1), "www IN A 192.0.2.1\nsub IN NS ns.elsewhere.net.\n")
	child := zonetest.Zone(t, zonetest.Header("sub.example.com.", 1), "www IN A 192.0.2.2\n")
	e, _, _ := newEngine(t, parent, child)
	check(t, ask(e, "www.sub.example.com.", dns.TypeA), want{aa: true, answer: []string{"www.sub.example.com. 300 IN A 192.0.2.2"}})
	check(t, ask(e, "www.example.com.", dns.TypeA), want{aa: true, answer: []string{"www.example.com. 300 IN A 192.0.2.1"}})
}

func TestDSAtChildApexAnsweredByServedParent(t *testing.T) {
	parent := zonetest.Zone(t, zonetest.Header("example.com.", 1), `
sub IN NS ns1.zonegrid.test.
sub IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
`)
	child := zonetest.Zone(t, zonetest.Header("sub.example.com.", 1), "www IN A 192.0.2.2\n")
	lone := zonetest.Zone(t, zonetest.Header("lone.example.org.", 1), "")
	e, _, _ := newEngine(t, parent, child, lone)
	check(t, ask(e, "sub.example.com.", dns.TypeDS), want{aa: true, answer: []string{
		"sub.example.com. 300 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}})
	check(t, ask(e, "sub.example.com.", dns.TypeA), want{aa: true, ns: []string{
		"sub.example.com. 1800 IN SOA ns1.zonegrid.test. dns.zonegrid.test. 1 10000 2400 604800 1800"}})
	check(t, ask(e, "lone.example.org.", dns.TypeDS), want{aa: true, ns: []string{
		"lone.example.org. 1800 IN SOA ns1.zonegrid.test. dns.zonegrid.test. 1 10000 2400 604800 1800"}})
}

func TestAnswerRootZone(t *testing.T) {
	root := zonetest.Zone(t, zonetest.Header(".", 1), "tld IN NS a.nic.tld.\na.nic.tld. IN A 192.0.2.5\n")
	e, _, _ := newEngine(t, root)
	r := ask(e, "www.tld.", dns.TypeA)
	if r.Authoritative || len(r.Ns) != 1 || len(r.Extra) != 1 {
		t.Fatalf("want referral from the root, got %v", r)
	}
}

// In-bailiwick glue (the documents' "Delegate subdomains"): the addresses of
// a delegation's nameservers below the cut travel in the additional
// section of its referrals and are never answered authoritatively.
func TestGlueIsServedInReferralsOnly(t *testing.T) {
	z := zonetest.Zone(t, zonetest.Header("example.com.", 3), `
internal        IN NS   ns1.internal
internal        IN NS   ns2.internal
internal        IN NS   ns.sibling
internal        IN NS   ns.elsewhere.net.
ns1.internal    IN A    192.0.2.53
ns1.internal    IN AAAA 2001:db8::53
ns2.internal    IN AAAA 2001:db8::54
www.internal    IN A    192.0.2.80
ns.sibling      IN A    192.0.2.60
self            IN NS   self
self            IN A    192.0.2.61
bare            IN NS   ns1.bare
*               IN A    192.0.2.99
`)
	e, _, _ := newEngine(t, z)
	internalNS := []string{
		"internal.example.com. 300 IN NS ns1.internal.example.com.", "internal.example.com. 300 IN NS ns2.internal.example.com.",
		"internal.example.com. 300 IN NS ns.sibling.example.com.", "internal.example.com. 300 IN NS ns.elsewhere.net.",
	}
	internalGlue := []string{
		"ns1.internal.example.com. 300 IN A 192.0.2.53", "ns1.internal.example.com. 300 IN AAAA 2001:db8::53",
		"ns2.internal.example.com. 300 IN AAAA 2001:db8::54", "ns.sibling.example.com. 300 IN A 192.0.2.60",
	}
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		{"referral carries A and AAAA glue of every in-zone nameserver", "internal.example.com.", dns.TypeA, want{ns: internalNS, extra: internalGlue}},
		{"referral for a name below the cut carries the same glue", "host.internal.example.com.", dns.TypeAAAA, want{ns: internalNS, extra: internalGlue}},
		{"glue name asked for A is a referral", "ns1.internal.example.com.", dns.TypeA, want{ns: internalNS, extra: internalGlue}},
		{"glue name asked for AAAA is a referral", "ns2.internal.example.com.", dns.TypeAAAA, want{ns: internalNS, extra: internalGlue}},
		{"address below the cut that is no nameserver is neither glue nor answered", "www.internal.example.com.", dns.TypeA, want{ns: internalNS, extra: internalGlue}},
		{"sibling nameserver outside the cut is answered authoritatively", "ns.sibling.example.com.", dns.TypeA, want{aa: true, answer: []string{"ns.sibling.example.com. 300 IN A 192.0.2.60"}}},
		{"nameserver named as the cut itself has its glue", "self.example.com.", dns.TypeA, want{
			ns: []string{"self.example.com. 300 IN NS self.example.com."}, extra: []string{"self.example.com. 300 IN A 192.0.2.61"}}},
		{"a wildcard never supplies glue", "bare.example.com.", dns.TypeA, want{ns: []string{"bare.example.com. 300 IN NS ns1.bare.example.com."}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, ask(e, tt.qname, tt.qtype), tt.want)
		})
	}
}
