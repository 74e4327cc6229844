package dnsask

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serve answers every question with rcode and the records given, in the
// answer or (referral) the authority section.
func serve(t *testing.T, rcode int, answer, authority []string) string {
	t.Helper()
	parse := func(lines []string) []dns.RR {
		var out []dns.RR
		for _, l := range lines {
			rr, err := dns.NewRR(l)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rr)
		}
		return out
	}
	an, ns := parse(answer), parse(authority)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		m.Answer, m.Ns = an, ns
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestAskReadsTheAnswerAndANSReferral(t *testing.T) {
	tests := []struct {
		name              string
		rcode             int
		answer, authority []string
		qtype             uint16
		want              int
		wantErr           bool
	}{
		{"answer of the type", dns.RcodeSuccess, []string{"x.test. 60 IN A 192.0.2.1", "other.test. 60 IN A 192.0.2.2"}, nil, dns.TypeA, 1, false},
		{"a CNAME at the name counts", dns.RcodeSuccess, []string{"x.test. 60 IN CNAME y.test.", "y.test. 60 IN A 192.0.2.1"}, nil, dns.TypeA, 1, false},
		{"NS from a referral", dns.RcodeSuccess, nil, []string{"x.test. 60 IN NS ns1.p.test.", "x.test. 60 IN NS ns2.p.test."}, dns.TypeNS, 2, false},
		{"no referral for other types", dns.RcodeSuccess, nil, []string{"x.test. 60 IN TXT \"v\""}, dns.TypeTXT, 0, false},
		{"NXDOMAIN is no records", dns.RcodeNameError, nil, nil, dns.TypeA, 0, false},
		{"SERVFAIL is an error", dns.RcodeServerFailure, nil, nil, dns.TypeA, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serve(t, tt.rcode, tt.answer, tt.authority)
			rrs, err := Ask(context.Background(), addr, "X.test", tt.qtype, true, time.Second)
			if (err != nil) != tt.wantErr || len(rrs) != tt.want {
				t.Fatalf("Ask = %v, %v; want %d records, error %t", rrs, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAskTimesOutOnASilentServer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := Ask(context.Background(), pc.LocalAddr().String(), "x.test.", dns.TypeA, false, 100*time.Millisecond); err == nil {
		t.Fatal("a silent server answered")
	}
}
