package node

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/edge/internal/natstest"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
)

const wait = 40 * time.Second

func startNode(t *testing.T, natsURL string, upstreams ...string) *Node {
	t.Helper()
	n, err := New(Config{
		UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
		NATSURL:     natsURL,
		Upstreams:   upstreams,
		AnycastIPv4: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")},
		AnycastIPv6: []netip.Addr{netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::11")},
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	// A start context that ends right away, as with a setup deadline, must
	// not stop the node.
	ctx, cancel := context.WithCancel(context.Background())
	err = n.Start(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	select {
	case <-n.Ready():
	case <-time.After(wait):
		t.Fatal("node never ready")
	}
	return n
}

func exchange(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", network, name, err)
	}
	return r
}

func firstA(r *dns.Msg) string {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

func TestNodeServesOverUDPAndTCP(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zonetest.Zone(t, zonetest.Header("example.com.", 1), "www IN A 192.0.2.1\nproxy IN A 198.51.100.7 ; proxied\n"))
	n := startNode(t, srv.URL())

	tests := []struct {
		name    string
		network string
		qname   string
		qtype   uint16
		rcode   int
		a       string
	}{
		{"udp exact", "udp", "www.example.com.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"},
		{"tcp exact", "tcp", "www.example.com.", dns.TypeA, dns.RcodeSuccess, "192.0.2.1"},
		{"udp nxdomain", "udp", "nope.example.com.", dns.TypeA, dns.RcodeNameError, ""},
		{"tcp refused outside", "tcp", "example.net.", dns.TypeA, dns.RcodeRefused, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := n.UDPAddr()
			if tt.network == "tcp" {
				addr = n.TCPAddr()
			}
			r := exchange(t, tt.network, addr, tt.qname, tt.qtype)
			if r.Rcode != tt.rcode || firstA(r) != tt.a {
				t.Errorf("got rcode %s a=%q, want %s a=%q", dns.RcodeToString[r.Rcode], firstA(r), dns.RcodeToString[tt.rcode], tt.a)
			}
		})
	}
	resp, err := http.Get("http://" + n.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`zonegrid_edge_queries_total{qtype="A",rcode="NOERROR"}`, "zonegrid_edge_zones_loaded 1", "zonegrid_edge_snapshot_apply_seconds"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The pool pick depends on the zone id, so any pool address will do.
	r := exchange(t, "udp", n.UDPAddr(), "proxy.example.com.", dns.TypeA)
	if a := firstA(r); a != "192.0.2.10" && a != "192.0.2.11" {
		t.Errorf("proxied name answered %q, want an anycast address", a)
	}
}

func TestNodeKeepsAnsweringWhileNATSIsDown(t *testing.T) {
	dir := t.TempDir()
	srv := natstest.Start(t, dir, 0)
	pub := natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zonetest.Zone(t, zonetest.Header("example.com.", 1), "www IN A 192.0.2.1\n"))
	n := startNode(t, srv.URL())

	srv.Stop()
	for range 5 {
		if a := firstA(exchange(t, "udp", n.UDPAddr(), "www.example.com.", dns.TypeA)); a != "192.0.2.1" {
			t.Fatalf("while NATS is down: answered %q", a)
		}
		time.Sleep(50 * time.Millisecond)
	}

	srv = natstest.Start(t, dir, srv.Port)
	t.Cleanup(srv.Stop)
	pub = natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zonetest.Zone(t, zonetest.Header("example.com.", 2), "www IN A 192.0.2.2\n"))
	natstest.Eventually(t, wait, "update after NATS restart", func() bool {
		return firstA(exchange(t, "udp", n.UDPAddr(), "www.example.com.", dns.TypeA)) == "192.0.2.2"
	})
}

func TestNodeFlattensApexThroughUpstream(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		if req.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(req.Question[0].Name + " 120 IN A 203.0.113.5")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})}
	go up.ActivateAndServe()
	t.Cleanup(func() { up.Shutdown() })

	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zonetest.Zone(t, zonetest.Header("example.com.", 1), "@ IN CNAME lb.hosting.example.net.\n"))
	n := startNode(t, srv.URL(), pc.LocalAddr().String())

	r := exchange(t, "udp", n.UDPAddr(), "example.com.", dns.TypeA)
	if len(r.Answer) != 1 || firstA(r) != "203.0.113.5" || r.Answer[0].Header().Name != "example.com." || r.Answer[0].Header().Ttl > 120 {
		t.Errorf("flattened apex answered %v", r.Answer)
	}
}

func TestNodePprofOnlyWhenAsked(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	for _, on := range []bool{false, true} {
		n, err := New(Config{UDPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", NATSURL: srv.URL(), Pprof: on, UDPSockets: 2}, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + n.MetricsAddr() + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusOK; got != on {
			t.Errorf("pprof %v: /debug/pprof/ answered %d", on, resp.StatusCode)
		}
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	}
}
