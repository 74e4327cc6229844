package dnsserver

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"
)

func TestServerAnswersUDPAndPipelinedTCP(t *testing.T) {
	s, err := Listen("127.0.0.1:0", "127.0.0.1:0", testHandler(t), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})

	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(query("www.example.com.", dns.TypeA, 0), s.UDPAddr())
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("udp: %v %v", r, err)
	}

	c, err := net.DialTimeout("tcp", s.TCPAddr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := &dns.Conn{Conn: c}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	names := []string{"www.example.com.", "big.example.com.", "nope.example.com."}
	// All queries first, then the answers: they must come back in order.
	var ids []uint16
	for _, n := range names {
		q := query(n, dns.TypeTXT, 0)
		ids = append(ids, q.Id)
		if err := conn.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range names {
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if r.Id != ids[i] || r.Question[0].Name != n {
			t.Errorf("answer %d is for %s (id %d), want %s (id %d)", i, r.Question[0].Name, r.Id, n, ids[i])
		}
	}
}
