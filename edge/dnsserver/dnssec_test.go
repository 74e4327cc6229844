package dnsserver

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/dnssec"
	"github.com/zonegrid/zonegrid/edge/internal/dnssectest"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
)

// signedHandler serves example.com. unsigned (as testHandler) and
// signed.example. signed; clock is the engine's signing clock (nil: now).
func signedHandler(tb testing.TB, clock *atomic.Int64, opts ...Option) (*Handler, []*dns.DNSKEY) {
	tb.Helper()
	var big strings.Builder
	for i := range 40 {
		fmt.Fprintf(&big, "big IN TXT \"%s-%02d\"\n", strings.Repeat("x", 60), i)
	}
	ring := dnssectest.Ring(tb)
	h := zonetest.Header("signed.example.", 1)
	d, keys := dnssectest.Dnssec(tb, ring, h.GetZoneId(), "signed.example.")
	h.Dnssec = d
	opener := dnssec.NewOpener(ring)
	set := zonecache.NewSet()
	set.SetPrepare(func(z *zonecache.Zone) {
		if d := z.Header.GetDnssec(); d != nil {
			s, err := opener.Prepare(z.Header.GetZoneId(), z.Name, d, nil, time.Now())
			if err != nil {
				tb.Fatal(err)
			}
			z.Signer = s
		}
	})
	for _, s := range []string{"example.com.", "signed.example."} {
		hdr := zonetest.Header(s, 1)
		if s == "signed.example." {
			hdr = h
		}
		z, err := zonecache.Build(zonetest.Zone(tb, hdr, "www IN A 192.0.2.1\nalias IN CNAME www\n*.wild IN A 192.0.2.9\n"+big.String()))
		if err != nil {
			tb.Fatal(err)
		}
		set.Put(z)
	}
	now := time.Now
	if clock != nil {
		now = func() time.Time { return time.Unix(clock.Load(), 0) }
	}
	hd := NewHandler(answer.New(answer.Config{Zones: set, Now: now}), nil, opts...)
	hd.SetReady(true)
	return hd, keys
}

func queryDO(name string, qtype uint16, size int) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(uint16(size), true)
	return m
}

func serveMsg(t *testing.T, h *Handler, q *dns.Msg, tcp bool) *dns.Msg {
	t.Helper()
	b := h.Serve(context.Background(), pack(t, q), tcp, nil)
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return r
}

func sigs(r *dns.Msg) []*dns.RRSIG {
	var out []*dns.RRSIG
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			if s, ok := rr.(*dns.RRSIG); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func TestCachedAnswersAreKeyedByDO(t *testing.T) {
	h, keys := signedHandler(t, nil)
	for range 2 { // the second round comes from the cache
		for _, tc := range []struct {
			name string
			q    *dns.Msg
			sigs int
		}{
			{"DO set: signed", queryDO("www.signed.example.", dns.TypeA, 1232), 1},
			{"no DO: unsigned", query("www.signed.example.", dns.TypeA, 1232), 0},
			{"DO on an unsigned zone: unsigned", queryDO("www.example.com.", dns.TypeA, 1232), 0},
			{"DO, compact NXDOMAIN", queryDO("nope.signed.example.", dns.TypeA, 1232), 2},
		} {
			r := serveMsg(t, h, tc.q, false)
			if got := len(sigs(r)); got != tc.sigs {
				t.Errorf("%s: %d signatures, want %d: %v", tc.name, got, tc.sigs, r)
			}
			if opt := r.IsEdns0(); opt == nil || opt.Do() != tc.q.IsEdns0().Do() {
				t.Errorf("%s: OPT %v does not echo DO", tc.name, opt)
			}
			for _, s := range sigs(r) {
				if s.KeyTag != keys[1].KeyTag() {
					t.Errorf("%s: signed by %d, want the ZSK", tc.name, s.KeyTag)
				}
			}
		}
	}
}

func TestSignedCacheEntriesGoStaleBeforeTheirSignatures(t *testing.T) {
	var clock atomic.Int64
	h, _ := signedHandler(t, &clock)
	// A compact NXDOMAIN's NSEC is signed per answer (the signer reuses the
	// signatures of the zone's own sets and of the SOA): the same inception
	// means the answer came from the packed-answer cache.
	q := queryDO("nope.signed.example.", dns.TypeA, 1232)
	inception := func() uint32 {
		for _, s := range sigs(serveMsg(t, h, q, false)) {
			if s.TypeCovered == dns.TypeNSEC {
				return s.Inception
			}
		}
		t.Fatal("no signature over the NSEC")
		return 0
	}

	// Signatures made two days ago expire in two days: under the three
	// days a served signature must have left, so never served from cache.
	clock.Store(time.Now().Add(-48 * time.Hour).Unix())
	first := inception()
	clock.Add(60)
	if second := inception(); second == first {
		t.Errorf("an answer whose signatures expire in two days was served from the cache")
	}
	// Fresh signatures are reused.
	clock.Store(time.Now().Unix())
	fresh := inception()
	clock.Add(60)
	if again := inception(); again != fresh {
		t.Errorf("a fresh signed answer was not reused: inception %d then %d", fresh, again)
	}
}

func TestSignedAnswerTruncatedOverUDPCompleteOverTCP(t *testing.T) {
	h, keys := signedHandler(t, nil)
	q := queryDO("big.signed.example.", dns.TypeTXT, 1232)
	udp := serveMsg(t, h, q, false)
	if !udp.Truncated {
		t.Fatalf("UDP answer of %d records not truncated", len(udp.Answer))
	}
	tcp := serveMsg(t, h, q, true)
	if tcp.Truncated || len(tcp.Answer) != 41 {
		t.Fatalf("TCP answer: TC %v, %d records, want 40 TXT and their RRSIG", tcp.Truncated, len(tcp.Answer))
	}
	s := tcp.Answer[40].(*dns.RRSIG)
	if err := s.Verify(keys[1], tcp.Answer[:40]); err != nil {
		t.Fatalf("RRSIG over TCP: %v", err)
	}
}

// sameAnswer reports whether two packed answers are the same but for the
// signature bytes of their RRSIG records (ECDSA signatures are randomized,
// and a fresh answer has other inception and expiration times).
func sameAnswer(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ma, mb := new(dns.Msg), new(dns.Msg)
	if ma.Unpack(a) != nil || mb.Unpack(b) != nil || len(a) != len(b) {
		return false
	}
	blank := func(m *dns.Msg) string {
		for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
			for _, rr := range sec {
				if s, ok := rr.(*dns.RRSIG); ok {
					s.Signature, s.Inception, s.Expiration = "", 0, 0
				}
			}
		}
		return m.String()
	}
	return blank(ma) == blank(mb)
}

func BenchmarkServeSigned(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
		q     *dns.Msg
	}{
		{"Exact", DefaultCacheSlots, queryDO("www.signed.example.", dns.TypeA, 1232)},
		{"ExactUncached", 0, queryDO("www.signed.example.", dns.TypeA, 1232)},
		{"NXDOMAIN", DefaultCacheSlots, queryDO("nope.signed.example.", dns.TypeA, 1232)},
		{"NXDOMAINUncached", 0, queryDO("nope.signed.example.", dns.TypeA, 1232)},
		{"WildcardUncached", 0, queryDO("x.wild.signed.example.", dns.TypeA, 1232)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := signedHandler(b, nil, WithAnswerCache(bc.cache))
			q := pack(b, bc.q)
			out := make([]byte, 0, 65535)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if h.Serve(ctx, q, false, out) == nil {
					b.Fatal("dropped")
				}
			}
		})
	}
}
