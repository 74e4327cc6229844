package answer

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
)

func benchAnswer(b *testing.B, name string, qtype uint16, wantRcode int) {
	e, _, _ := newEngine(b, zonetest.Zone(b, zonetest.Header("example.com.", 1), exampleZone))
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	q := req.Question[0]
	resp := new(dns.Msg)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		// The response message is reused the way the server's pool does.
		resp.Answer, resp.Ns, resp.Extra = resp.Answer[:0], resp.Ns[:0], resp.Extra[:0]
		resp.Rcode = 0
		e.Answer(ctx, q, resp)
	}
	if resp.Rcode != wantRcode {
		b.Fatalf("rcode %d, want %d", resp.Rcode, wantRcode)
	}
}

func BenchmarkAnswerExact(b *testing.B) {
	benchAnswer(b, "www.example.com.", dns.TypeA, dns.RcodeSuccess)
}

func BenchmarkAnswerNXDOMAIN(b *testing.B) {
	benchAnswer(b, "nope.sub1.example.com.", dns.TypeA, dns.RcodeNameError)
}

func BenchmarkAnswerWildcard(b *testing.B) {
	benchAnswer(b, "anything.example.com.", dns.TypeA, dns.RcodeSuccess)
}

func BenchmarkAnswerCNAMEChain(b *testing.B) {
	benchAnswer(b, "chain1.example.com.", dns.TypeA, dns.RcodeSuccess)
}
