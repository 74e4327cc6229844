package dnsserver

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
)

func testHandler(tb testing.TB, opts ...Option) *Handler {
	tb.Helper()
	var big strings.Builder
	for i := range 40 {
		fmt.Fprintf(&big, "big IN TXT \"%s-%02d\"\n", strings.Repeat("x", 60), i)
	}
	s := zonetest.Zone(tb, zonetest.Header("example.com.", 1), "www IN A 192.0.2.1\nalias IN CNAME www\n"+big.String())
	z, err := zonecache.Build(s)
	if err != nil {
		tb.Fatal(err)
	}
	set := zonecache.NewSet()
	set.Put(z)
	h := NewHandler(answer.New(answer.Config{Zones: set}), nil, opts...)
	h.SetReady(true)
	return h
}

func pack(tb testing.TB, m *dns.Msg) []byte {
	tb.Helper()
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func query(name string, qtype uint16, edns int) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns > 0 {
		m.SetEdns0(uint16(edns), false)
	}
	return m
}

func TestHandlerProtocol(t *testing.T) {
	h := testHandler(t)
	tests := []struct {
		name   string
		query  func() []byte
		tcp    bool
		drop   bool
		verify func(t *testing.T, r *dns.Msg)
	}{
		{name: "answer with edns echoes our buffer size", query: func() []byte { return pack(t, query("www.example.com.", dns.TypeA, 4096)) },
			verify: func(t *testing.T, r *dns.Msg) {
				opt := r.IsEdns0()
				if opt == nil || opt.UDPSize() != EDNSBufferSize || opt.Version() != 0 {
					t.Errorf("opt = %v, want udp size %d", opt, EDNSBufferSize)
				}
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !r.Authoritative {
					t.Errorf("unexpected answer %v", r)
				}
			}},
		{name: "no opt without edns", query: func() []byte { return pack(t, query("www.example.com.", dns.TypeA, 0)) },
			verify: func(t *testing.T, r *dns.Msg) {
				if r.IsEdns0() != nil {
					t.Errorf("opt in answer to a plain query")
				}
			}},
		{name: "question echoed with its case, rd copied, ra clear", query: func() []byte {
			m := query("WWW.Example.COM.", dns.TypeA, 0)
			m.RecursionDesired = true
			return pack(t, m)
		}, verify: func(t *testing.T, r *dns.Msg) {
			if r.Question[0].Name != "WWW.Example.COM." || !r.RecursionDesired || r.RecursionAvailable || r.Id == 0 {
				t.Errorf("header/question not as asked: %v", r)
			}
			if len(r.Answer) != 1 {
				t.Errorf("case-insensitive match failed: %v", r)
			}
		}},
		{name: "unknown edns version is badvers", query: func() []byte {
			m := query("www.example.com.", dns.TypeA, 1232)
			m.IsEdns0().SetVersion(1)
			return pack(t, m)
		}, verify: func(t *testing.T, r *dns.Msg) {
			if r.Rcode != dns.RcodeBadVers || r.IsEdns0() == nil || len(r.Answer) != 0 {
				t.Errorf("rcode %d, want BADVERS with opt: %v", r.Rcode, r)
			}
		}},
		{name: "no question is formerr", query: func() []byte {
			m := query("www.example.com.", dns.TypeA, 0)
			m.Question = nil
			return pack(t, m)
		}, verify: rcodeIs(dns.RcodeFormatError)},
		{name: "two questions is formerr", query: func() []byte {
			m := query("www.example.com.", dns.TypeA, 0)
			m.Question = append(m.Question, m.Question[0])
			return pack(t, m)
		}, verify: rcodeIs(dns.RcodeFormatError)},
		{name: "update opcode is notimp", query: func() []byte {
			m := query("example.com.", dns.TypeSOA, 0)
			m.Opcode = dns.OpcodeUpdate
			return pack(t, m)
		}, verify: rcodeIs(dns.RcodeNotImplemented)},
		{name: "response packets are dropped", query: func() []byte {
			m := query("www.example.com.", dns.TypeA, 0)
			m.Response = true
			return pack(t, m)
		}, drop: true},
		{name: "short packets are dropped", query: func() []byte { return []byte{1, 2, 3} }, drop: true},
		{name: "unparsable packets are formerr", query: func() []byte {
			b := pack(t, query("www.example.com.", dns.TypeA, 0))
			return b[:len(b)-3]
		}, verify: rcodeIs(dns.RcodeFormatError)},
		{name: "large answer truncated at 512 without edns", query: func() []byte { return pack(t, query("big.example.com.", dns.TypeTXT, 0)) },
			verify: truncatedWithin(512)},
		{name: "large answer truncated at our size with big edns", query: func() []byte { return pack(t, query("big.example.com.", dns.TypeTXT, 65000)) },
			verify: truncatedWithin(EDNSBufferSize)},
		{name: "tiny edns size treated as 512", query: func() []byte { return pack(t, query("big.example.com.", dns.TypeTXT, 100)) },
			verify: truncatedWithin(512)},
		{name: "full answer over tcp", tcp: true, query: func() []byte { return pack(t, query("big.example.com.", dns.TypeTXT, 0)) },
			verify: func(t *testing.T, r *dns.Msg) {
				if r.Truncated || len(r.Answer) != 40 {
					t.Errorf("tcp answer truncated=%v with %d records, want 40", r.Truncated, len(r.Answer))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.query()
			b := h.Serve(context.Background(), q, tt.tcp, nil)
			if tt.drop {
				if b != nil {
					t.Fatalf("want drop, got %d bytes", len(b))
				}
				return
			}
			if b == nil {
				t.Fatal("dropped, want an answer")
			}
			r := new(dns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Fatalf("unpack answer: %v", err)
			}
			if !r.Response || r.Id != dns.Id() && r.Id != (uint16(q[0])<<8|uint16(q[1])) {
				t.Errorf("not a response to the query: %v", r)
			}
			tt.verify(t, r)
		})
	}
}

func rcodeIs(rc int) func(t *testing.T, r *dns.Msg) {
	return func(t *testing.T, r *dns.Msg) {
		t.Helper()
		if r.Rcode != rc {
			t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[rc])
		}
	}
}

func truncatedWithin(size int) func(t *testing.T, r *dns.Msg) {
	return func(t *testing.T, r *dns.Msg) {
		t.Helper()
		if !r.Truncated {
			t.Errorf("TC not set")
		}
		// Uncompressed, the stricter measure some clients use.
		if l := r.Len(); l > size {
			t.Errorf("answer %d bytes, limit %d", l, size)
		}
	}
}

func TestHandlerServfailUntilReady(t *testing.T) {
	h := testHandler(t)
	h.SetReady(false)
	b := h.Serve(context.Background(), pack(t, query("www.example.com.", dns.TypeA, 0)), false, nil)
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s before ready, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

func FuzzServeDNS(f *testing.F) {
	for _, m := range []*dns.Msg{
		query("www.example.com.", dns.TypeA, 0),
		query("big.example.com.", dns.TypeTXT, 1232),
		query("nx.example.com.", dns.TypeAAAA, 4096),
		query("example.org.", dns.TypeANY, 0),
		// DO set: the signing path (issue 11), the zone signed.example.
		queryDO("www.signed.example.", dns.TypeA, 1232),
		queryDO("nope.signed.example.", dns.TypeAAAA, 1232),
		queryDO("www.signed.example.", dns.TypeTXT, 4096),
		queryDO("x.wild.signed.example.", dns.TypeA, 512),
		queryDO("big.signed.example.", dns.TypeTXT, 1232),
		queryDO("signed.example.", dns.TypeDNSKEY, 1232),
		queryDO("signed.example.", dns.TypeCDS, 1232),
	} {
		b, _ := m.Pack()
		f.Add(b, false)
	}
	for _, tt := range wireErrorCases() {
		f.Add(tt.query, false)
	}
	// example.com. as in testHandler, and signed.example. signed.
	h, _ := signedHandler(f, nil)
	f.Fuzz(func(t *testing.T, q []byte, tcp bool) {
		b := h.Serve(context.Background(), q, tcp, make([]byte, 0, 512))
		if b == nil {
			return
		}
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if !tcp && len(b) > EDNSBufferSize {
			t.Fatalf("udp answer of %d bytes", len(b))
		}
		// The fast path, and the cache it filled, must answer exactly as
		// the full parser does.
		// Signed answers differ in their signatures only (sameAnswer).
		full, _ := h.serveFull(context.Background(), q, tcp, nil, true, nil)
		if !sameAnswer(b, full) {
			t.Fatalf("fast path answer differs from the full parser's\n got %x\nwant %x", b, full)
		}
		if again := h.Serve(context.Background(), q, tcp, nil); !sameAnswer(again, full) {
			t.Fatalf("second (cached) answer differs from the full parser's\n got %x\nwant %x", again, full)
		}
	})
}

func BenchmarkServeExact(b *testing.B) {
	h := testHandler(b)
	q := pack(b, query("www.example.com.", dns.TypeA, 1232))
	out := make([]byte, 0, 65535)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if h.Serve(ctx, q, false, out) == nil {
			b.Fatal("dropped")
		}
	}
}

func TestHandlerConcurrentQueriesShareZones(t *testing.T) {
	h := testHandler(t)
	queries := [][]byte{
		pack(t, query("www.example.com.", dns.TypeA, 1232)),
		pack(t, query("big.example.com.", dns.TypeTXT, 0)),
		pack(t, query("nope.example.com.", dns.TypeA, 0)),
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			out := make([]byte, 0, 512)
			for i := range 200 {
				b := h.Serve(context.Background(), queries[(g+i)%len(queries)], i%2 == 0, out)
				r := new(dns.Msg)
				if err := r.Unpack(b); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func benchServe(b *testing.B, opts []Option, q []byte) {
	h := testHandler(b, opts...)
	out := make([]byte, 0, 65535)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if h.Serve(ctx, q, false, out) == nil {
			b.Fatal("dropped")
		}
	}
}

func BenchmarkServeExactUncached(b *testing.B) {
	benchServe(b, []Option{WithAnswerCache(0)}, pack(b, query("www.example.com.", dns.TypeA, 1232)))
}

func BenchmarkServeNXDOMAIN(b *testing.B) {
	benchServe(b, nil, pack(b, query("nope.example.com.", dns.TypeA, 0)))
}

func BenchmarkServeNXDOMAINUncached(b *testing.B) {
	benchServe(b, []Option{WithAnswerCache(0)}, pack(b, query("nope.example.com.", dns.TypeA, 0)))
}

// BenchmarkServeFullParser is a query the fast path leaves to the full
// parser (an EDNS option it does not know).
func BenchmarkServeFullParser(b *testing.B) {
	m := query("www.example.com.", dns.TypeA, 1232)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	benchServe(b, nil, pack(b, m))
}

// BenchmarkServeMix answers a mix like the benchmark harness's
// (deploy/bench): 10,000 names with A, AAAA, CNAME, MX and TXT, every
// twentieth address proxied, queries spread over them with one in ten for
// a missing name never asked before (as random-name queries are). The
// mixed-case run asks every name with its letters in random case, as 0x20
// resolvers do (the harness's queries-mixed.txt).
func BenchmarkServeMix(b *testing.B) {
	for _, mixed := range []bool{false, true} {
		b.Run(map[bool]string{false: "lower", true: "mixed"}[mixed], func(b *testing.B) { benchServeMix(b, mixed) })
	}
}

func benchServeMix(b *testing.B, mixed bool) {
	var zone strings.Builder
	for i := range 10000 {
		proxied := ""
		if i%20 == 0 {
			proxied = " ; proxied"
		}
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			fmt.Fprintf(&zone, "host%05d IN A 10.0.%d.%d%s\nhost%05d IN AAAA 2001:db8::%x\n", i, i>>8&255, i&255, proxied, i, i)
		case 6, 7:
			fmt.Fprintf(&zone, "host%05d IN CNAME host%05d\n", i, i/2)
		case 8:
			fmt.Fprintf(&zone, "host%05d IN MX 10 mx.example.net.\n", i)
		default:
			fmt.Fprintf(&zone, "host%05d IN TXT \"token-%d\"\n", i, i)
		}
	}
	z, err := zonecache.Build(zonetest.Zone(b, zonetest.Header("bench.test.", 1), zone.String()))
	if err != nil {
		b.Fatal(err)
	}
	set := zonecache.NewSet()
	set.Put(z)
	h := NewHandler(answer.New(answer.Config{Zones: set, AnycastIPv4: []netip.Addr{netip.MustParseAddr("192.0.2.10")}}), nil)
	h.SetReady(true)
	queries := make([][]byte, 50000)
	for i := range queries {
		n := (i * 7919) % 10000
		// A type the name has (CNAME names are asked for A), as a
		// resolver asks.
		qtype := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeA, dns.TypeA, dns.TypeA, dns.TypeA,
			dns.TypeA, dns.TypeA, dns.TypeMX, dns.TypeTXT}[n%10]
		name := fmt.Sprintf("host%05d.bench.test.", n)
		if i%10 == 0 {
			name, qtype = "nx00000000.bench.test.", dns.TypeA
		}
		if mixed {
			name = randomCase(name, uint32(i))
		}
		queries[i] = pack(b, query(name, qtype, 0))
	}
	out := make([]byte, 0, 4096)
	ctx := context.Background()
	b.ReportAllocs()
	const hex = "0123456789abcdef"
	i := 0
	for b.Loop() {
		q := queries[i%len(queries)]
		if i%10 == 0 {
			// A fresh name: the label "nx" + 8 hex digits starts at 13.
			for j, v := 0, uint32(i); j < 8; j, v = j+1, v>>4 {
				q[headerLen+3+7-j] = hex[v&15]
			}
		}
		if h.Serve(ctx, q, false, out) == nil {
			b.Fatal("dropped")
		}
		i++
	}
}

// randomCase returns name with each letter upper-cased or not by the bits
// of a xorshift sequence seeded from seed: the same spelling every run.
func randomCase(name string, seed uint32) string {
	x := seed*2654435761 + 1
	r := []byte(name)
	for i, c := range r {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if c >= 'a' && c <= 'z' && x&1 == 1 {
			r[i] = c - 'a' + 'A'
		}
	}
	return string(r)
}
