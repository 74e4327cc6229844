package quickscan

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// server is a real DNS server on 127.0.0.1 answering from zone-file lines.
func server(t *testing.T, lines ...string) (string, int) {
	t.Helper()
	var rrs []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		for _, rr := range rrs {
			if strings.EqualFold(rr.Header().Name, q.Name) && (rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME) {
				m.Answer = append(m.Answer, rr)
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	addr := pc.LocalAddr().String()
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return addr, port
}

func TestQuickScanAsksTheCurrentNameserversForCommonNames(t *testing.T) {
	// The old provider's nameserver, authoritative for move.test.
	_, port := server(t,
		"move.test. 300 IN A 192.0.2.10",
		"move.test. 300 IN MX 10 mail.move.test.",
		"move.test. 300 IN TXT \"v=spf1 mx -all\"",
		"www.move.test. 300 IN CNAME move.test.",
		"mail.move.test. 300 IN A 192.0.2.25",
		"_dmarc.move.test. 300 IN TXT \"v=DMARC1; p=none\"",
		"my-store1900.move.test. 300 IN A 192.0.2.99", // not a common name: not found
	)
	// The resolver: where move.test is delegated and where that host is.
	resolver, _ := server(t,
		"move.test. 3600 IN NS ns1.oldhost.test.",
		"move.test. 3600 IN NS ada.ns.zonegrid.test.",
		"ns1.oldhost.test. 3600 IN A 127.0.0.1",
	)
	s := &Scanner{Resolver: resolver, Port: port, Timeout: time.Second, Exclude: []string{"ada.ns.zonegrid.test."}}
	res, err := s.Scan(context.Background(), "Move.Test")
	if err != nil {
		t.Fatal(err)
	}
	if res.Server != "127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("asked %s, want the old provider's nameserver", res.Server)
	}
	got := map[string]bool{}
	for _, r := range res.Records {
		got[r.GetName()+" "+r.GetType()+" "+r.GetContent()] = true
	}
	for _, want := range []string{
		"move.test. A 192.0.2.10", "move.test. MX mail.move.test.", "move.test. TXT v=spf1 mx -all",
		"www.move.test. CNAME move.test.", "mail.move.test. A 192.0.2.25", "_dmarc.move.test. TXT v=DMARC1; p=none",
	} {
		if !got[want] {
			t.Errorf("scan missed %q (found %v)", want, got)
		}
	}
	if len(res.Records) != 6 {
		t.Fatalf("found %d records, want 6: %v", len(res.Records), got)
	}
}

func TestQuickScanFailsWhenTheResolverDoesNotAnswer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // nobody answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := &Scanner{Resolver: pc.LocalAddr().String(), Timeout: 200 * time.Millisecond}
	if _, err := s.Scan(context.Background(), "silent.test."); err == nil {
		t.Fatal("scan through a silent resolver succeeded")
	}
}
