package dnsserver

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// TestFastPathAnswersAsTheFullParser checks that the fast path, with and
// without the answer cache, gives byte for byte the answer the full parser
// gives.
func TestFastPathAnswersAsTheFullParser(t *testing.T) {
	cached := testHandler(t)
	plain := testHandler(t, WithAnswerCache(0))
	// A two-slot cache shared by every case below: questions evict each
	// other all the time, and must still never get another's answer.
	tiny := testHandler(t, WithAnswerCache(2))
	tests := []struct {
		name string
		msg  func() *dns.Msg
		tcp  bool
	}{
		{"exact without edns", func() *dns.Msg { return query("www.example.com.", dns.TypeA, 0) }, false},
		{"exact with edns", func() *dns.Msg { return query("www.example.com.", dns.TypeA, 1232) }, false},
		{"mixed case echoed", func() *dns.Msg { return query("WwW.ExAmPlE.cOm.", dns.TypeA, 4096) }, false},
		{"do bit echoed", func() *dns.Msg {
			m := query("www.example.com.", dns.TypeA, 1232)
			m.IsEdns0().SetDo()
			return m
		}, false},
		{"rd and cd copied", func() *dns.Msg {
			m := query("www.example.com.", dns.TypeA, 0)
			m.RecursionDesired, m.CheckingDisabled = true, true
			return m
		}, false},
		{"cname chain", func() *dns.Msg { return query("alias.example.com.", dns.TypeA, 0) }, false},
		{"cname chain asked in mixed case", func() *dns.Msg { return query("alias.Example.COM.", dns.TypeA, 0) }, false},
		{"nxdomain", func() *dns.Msg { return query("nope.example.com.", dns.TypeAAAA, 0) }, false},
		{"nodata", func() *dns.Msg { return query("www.example.com.", dns.TypeMX, 0) }, false},
		{"refused outside the zones", func() *dns.Msg { return query("www.example.org.", dns.TypeA, 0) }, false},
		{"class chaos refused", func() *dns.Msg {
			m := query("www.example.com.", dns.TypeA, 0)
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}, false},
		{"apex soa", func() *dns.Msg { return query("example.com.", dns.TypeSOA, 1232) }, false},
		{"truncated at 512", func() *dns.Msg { return query("big.example.com.", dns.TypeTXT, 0) }, false},
		{"truncated at the client's size", func() *dns.Msg { return query("big.example.com.", dns.TypeTXT, 700) }, false},
		{"whole over tcp", func() *dns.Msg { return query("big.example.com.", dns.TypeTXT, 0) }, true},
		{"cookie option", func() *dns.Msg {
			m := query("www.example.com.", dns.TypeA, 1232)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
			return m
		}, false},
		{"root name", func() *dns.Msg { return query(".", dns.TypeNS, 0) }, false},
		{"wildcard label", func() *dns.Msg { return query("*.example.com.", dns.TypeA, 0) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := pack(t, tt.msg())
			want, _ := plain.serveFull(context.Background(), q, tt.tcp, nil, true, nil)
			if got := plain.Serve(context.Background(), q, tt.tcp, nil); !bytes.Equal(got, want) {
				t.Fatalf("fast path without cache: answer differs from the full parser's\n got %x\nwant %x", got, want)
			}
			for i := range 3 { // miss, then hits
				got := cached.Serve(context.Background(), q, tt.tcp, nil)
				if !bytes.Equal(got, want) {
					t.Fatalf("try %d: answer differs from the full parser's\n got %x\nwant %x", i, got, want)
				}
				if got := tiny.Serve(context.Background(), q, tt.tcp, nil); !bytes.Equal(got, want) {
					t.Fatalf("try %d, tiny cache: answer differs from the full parser's\n got %x\nwant %x", i, got, want)
				}
			}
			// The same question under another id and case.
			m := tt.msg()
			m.Id ^= 0x5a5a
			if len(m.Question[0].Name) > 1 {
				m.Question[0].Name = "W" + m.Question[0].Name[1:]
			}
			q = pack(t, m)
			want, _ = plain.serveFull(context.Background(), q, tt.tcp, nil, true, nil)
			if got := cached.Serve(context.Background(), q, tt.tcp, nil); !bytes.Equal(got, want) {
				t.Fatalf("other id/case: answer differs\n got %x\nwant %x", got, want)
			}
		})
	}
}

// TestAnswerCacheFollowsZonesAndAccounts: a new zone version and a flipped
// enforce_dns_only show on the next query.
func TestAnswerCacheFollowsZonesAndAccounts(t *testing.T) {
	zone := func(version uint64, addr string) *zonecache.Zone {
		z, err := zonecache.Build(zonetest.Zone(t, zonetest.Header("example.com.", version),
			"www IN A "+addr+"\nweb IN A 198.51.100.1 ; proxied\n"))
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	// One address: the proxied answer is that address whatever the pick.
	anycast := netip.MustParseAddr("192.0.2.10")
	set, acc := zonecache.NewSet(), zonecache.NewAccounts()
	set.Put(zone(1, "192.0.2.1"))
	h := NewHandler(answer.New(answer.Config{Zones: set, Accounts: acc, AnycastIPv4: []netip.Addr{anycast}}), nil)
	h.SetReady(true)
	ask := func(name string) []string {
		t.Helper()
		r := new(dns.Msg)
		if err := r.Unpack(h.Serve(context.Background(), pack(t, query(name, dns.TypeA, 0)), false, nil)); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, rr := range r.Answer {
			out = append(out, rr.(*dns.A).A.String())
		}
		return out
	}
	steps := []struct {
		name   string
		change func()
		qname  string
		want   string
	}{
		{"first answer", func() {}, "www.example.com.", "192.0.2.1"},
		{"cached answer", func() {}, "www.example.com.", "192.0.2.1"},
		{"new zone version", func() { set.Put(zone(2, "192.0.2.2")) }, "www.example.com.", "192.0.2.2"},
		{"proxied answer", func() {}, "web.example.com.", anycast.String()},
		{"proxied answer cached", func() {}, "web.example.com.", anycast.String()},
		{"enforce dns-only", func() {
			acc.Put(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 1, EnforceDnsOnly: true})
		}, "web.example.com.", "198.51.100.1"},
		{"enforce dns-only off again", func() {
			acc.Put(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 2})
		}, "web.example.com.", anycast.String()},
		{"zone removed", func() { set.Delete("example.com.") }, "www.example.com.", ""},
	}
	for _, s := range steps {
		s.change()
		got := ask(s.qname)
		first := ""
		if len(got) > 0 {
			first = got[0]
		}
		if first != s.want {
			t.Errorf("%s: answer %v, want first %q", s.name, got, s.want)
		}
	}
}

func TestAnswerCacheReplacement(t *testing.T) {
	pos := func(name string) *cacheEntry { return &cacheEntry{name: name, qtype: dns.TypeA, qclass: dns.ClassINET} }
	neg := func(name string) *cacheEntry {
		e := pos(name)
		e.flags3 = dns.RcodeNameError
		return e
	}
	compactNX := func(name string) *cacheEntry {
		e := pos(name)
		e.info.CompactNX = true
		return e
	}
	tests := []struct {
		name string
		held *cacheEntry
		put  *cacheEntry
		want string
	}{
		{"free slot takes a negative answer", nil, neg("nx1."), "nx1."},
		{"a negative answer never evicts a positive one", pos("www."), neg("nx1."), "www."},
		{"a positive answer evicts a negative one", neg("nx1."), pos("www."), "www."},
		{"a negative answer replaces a negative one", neg("nx1."), neg("nx2."), "nx2."},
		{"a positive answer replaces a positive one", pos("www."), pos("mail."), "mail."},
		{"the same question is replaced whatever its answer", pos("www."), neg("www."), "www."},
		{"a compact (signed NOERROR) NXDOMAIN never evicts a positive one", pos("www."), compactNX("nx1."), "www."},
		{"a positive answer evicts a compact NXDOMAIN", compactNX("nx1."), pos("www."), "www."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newAnswerCache(1) // one slot: both candidates are the same
			if tt.held != nil {
				c.put(tt.held)
			}
			c.put(tt.put)
			got := c.slots[0].Load()
			want := tt.held
			if tt.want == tt.put.name {
				want = tt.put
			}
			if got != want {
				t.Fatalf("slot holds %+v, want %+v", got, want)
			}
			if e := c.get([]byte(tt.want), dns.TypeA, dns.ClassINET, false); e != got {
				t.Errorf("get(%q) = %v, want the held entry", tt.want, e)
			}
		})
	}
}

// TestMixedCaseQuestionsShareTheCachedAnswer checks that the spellings of
// one question (0x20 resolvers randomize the case of every query) share
// one cache entry, that every answer carries the question exactly as sent
// (RFC 4343 and what resolvers matching 0x20 check), that names compressed
// to the question read in its case as NSD's and Knot's do, and that an
// entry filled by one spelling leaves no trace of that case in the
// answers to another.
func TestMixedCaseQuestionsShareTheCachedAnswer(t *testing.T) {
	tests := []struct {
		name      string
		spellings []string // the first fills the cache
		qtype     uint16
		// owners are the answer's owner names for the spelling asked;
		// targets its CNAME targets, case-insensitively.
		owners  func(asked string) []string
		targets []string
	}{
		{"address, filled lower case", []string{"www.example.com.", "WwW.ExAmPlE.cOm.", "WWW.EXAMPLE.COM."}, dns.TypeA,
			func(asked string) []string { return []string{asked} }, nil},
		{"address, filled mixed case", []string{"wWw.EXAMPLE.com.", "www.example.com.", "Www.Example.Com."}, dns.TypeA,
			func(asked string) []string { return []string{asked} }, nil},
		{"cname chain: the target keeps its own label, the zone part follows the question",
			[]string{"ALIAS.example.COM.", "alias.example.com.", "aLiAs.ExAmPlE.cOm."}, dns.TypeA,
			func(asked string) []string { return []string{asked, "www" + asked[len("alias"):]} }, []string{"www.example.com."}},
		{"nxdomain", []string{"NoPe.example.com.", "nope.EXAMPLE.com."}, dns.TypeA,
			func(string) []string { return nil }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHandler(t)
			for i, name := range tt.spellings {
				hits := testutil.ToFloat64(h.metrics.cacheHits)
				q := pack(t, query(name, tt.qtype, 1232))
				b := h.Serve(context.Background(), q, false, nil)
				if hit := testutil.ToFloat64(h.metrics.cacheHits) > hits; hit != (i > 0) {
					t.Errorf("%s: cache hit %v, want %v", name, hit, i > 0)
				}
				qEnd := questionEnd(q)
				if !bytes.Equal(b[headerLen:qEnd], q[headerLen:qEnd]) {
					t.Fatalf("%s: question %q, want %q exactly", name, b[headerLen:qEnd], q[headerLen:qEnd])
				}
				var r dns.Msg
				if err := r.Unpack(b); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var owners, targets []string
				for _, rr := range r.Answer {
					owners = append(owners, rr.Header().Name)
					if c, ok := rr.(*dns.CNAME); ok {
						targets = append(targets, c.Target)
					}
				}
				if want := tt.owners(name); !slices.Equal(owners, want) {
					t.Errorf("%s: owner names %q, want %q", name, owners, want)
				}
				if len(targets) != len(tt.targets) {
					t.Fatalf("%s: targets %q, want %q", name, targets, tt.targets)
				}
				for j := range targets {
					if !strings.EqualFold(targets[j], tt.targets[j]) || !strings.HasPrefix(targets[j], "www.") {
						t.Errorf("%s: target %q, want %q (the zone's own label as written)", name, targets[j], tt.targets[j])
					}
				}
				// Every spelling gets the answer of the lower-case
				// question with the question's bytes in place.
				want := h.Serve(context.Background(), pack(t, query(strings.ToLower(name), tt.qtype, 1232)), false, nil)
				copy(want[headerLen:qEnd], q[headerLen:qEnd])
				want[0], want[1] = b[0], b[1]
				if !bytes.Equal(b, want) {
					t.Errorf("%s: answer differs from the lower-case question's\n got %x\nwant %x", name, b, want)
				}
			}
		})
	}
}
