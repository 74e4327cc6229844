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

// BenchmarkAnswerSigned is the cost of a signed answer made from scratch
// (a miss of the packed-answer cache): the engine, plus one ECDSA P-256
// signature per RRset (two for a denial: SOA and NSEC).
func BenchmarkAnswerSigned(b *testing.B) {
	for _, bc := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"Exact", "www.signed.test.", dns.TypeA},
		{"CompactNXDOMAIN", "nope.signed.test.", dns.TypeA},
		{"Wildcard", "host.wild.signed.test.", dns.TypeA},
		{"Proxied", "web.signed.test.", dns.TypeA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			env := signedEngine(b, nil)
			req := new(dns.Msg)
			req.SetQuestion(bc.qname, bc.qtype)
			q := req.Question[0]
			resp := new(dns.Msg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp.Answer, resp.Ns, resp.Extra = resp.Answer[:0], resp.Ns[:0], resp.Extra[:0]
				resp.Rcode = 0
				env.e.AnswerQueryDO(ctx, q, resp, true, true)
			}
			if !hasType(resp.Answer, dns.TypeRRSIG) && !hasType(resp.Ns, dns.TypeRRSIG) {
				b.Fatal("not signed")
			}
		})
	}
}
