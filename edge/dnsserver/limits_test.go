package dnsserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/rrl"
	"github.com/zonegrid/zonegrid/edge/zonecache"
)

// The tests tell sources apart by binding clients to other loopback
// addresses (127.0.0.2, 127.0.0.3, ...), which Linux routes to lo.

func startServer(t *testing.T, o Options) *Server {
	t.Helper()
	o.UDPAddr, o.TCPAddr = "127.0.0.1:0", "127.0.0.1:0"
	s, err := ListenOptions(o, testHandler(t), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(func() { s.Close() })
	return s
}

func dialFrom(t *testing.T, s *Server, src string) *dns.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", s.TCPAddr())
	if err != nil {
		t.Skipf("cannot bind %s (loopback aliases needed): %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return &dns.Conn{Conn: c}
}

// ask sends one query on c and reports whether it was answered; a
// connection the server closed reads EOF or a reset.
func ask(t *testing.T, c *dns.Conn) bool {
	t.Helper()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if err := c.WriteMsg(query("www.example.com.", dns.TypeA, 0)); err != nil {
		return false
	}
	r, err := c.ReadMsg()
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, net.ErrClosed) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("server neither answered nor closed: %v", err)
			}
		}
		return false
	}
	return len(r.Answer) == 1
}

func TestTCPOneSourceCannotLockOthersOut(t *testing.T) {
	s := startServer(t, Options{TCPMaxConns: 8, TCPMaxConnsPerSource: 4})
	var greedy []*dns.Conn
	for range 6 {
		greedy = append(greedy, dialFrom(t, s, "127.0.0.2"))
	}
	for i, c := range greedy {
		if got, want := ask(t, c), i < 4; got != want {
			t.Errorf("greedy connection %d answered = %v, want %v (4 per source)", i, got, want)
		}
	}
	if !ask(t, dialFrom(t, s, "127.0.0.3")) {
		t.Error("another source was not answered")
	}
	if got := testutil.ToFloat64(s.h.metrics.tcpRefused); got != 2 {
		t.Errorf("refused = %v, want 2", got)
	}
}

func TestTCPFullTableEvictsTheConnectionIdleLongest(t *testing.T) {
	s := startServer(t, Options{TCPMaxConns: 4, TCPMaxConnsPerSource: -1})
	var conns []*dns.Conn
	for i := range 4 {
		c := dialFrom(t, s, "127.0.0."+string(rune('2'+i)))
		if !ask(t, c) {
			t.Fatalf("connection %d not answered", i)
		}
		conns = append(conns, c)
		time.Sleep(5 * time.Millisecond) // distinct idle times
	}
	// Connection 0 is busy again: connection 1 is now idle longest.
	if !ask(t, conns[0]) {
		t.Fatal("connection 0 not answered again")
	}
	time.Sleep(5 * time.Millisecond)
	if !ask(t, dialFrom(t, s, "127.0.0.9")) {
		t.Fatal("newcomer on a full table not answered")
	}
	for i, c := range conns {
		if got, want := ask(t, c), i != 1; got != want {
			t.Errorf("connection %d answered = %v, want %v (only the idlest evicted)", i, got, want)
		}
	}
	if got := testutil.ToFloat64(s.h.metrics.tcpEvicted); got != 1 {
		t.Errorf("evicted = %v, want 1", got)
	}
}

func TestTCPIdleTimeoutShrinksUnderPressure(t *testing.T) {
	s := &Server{opts: Options{TCPMaxConns: 100, TCPIdleTimeout: 10 * time.Second}}
	tests := []struct {
		open int
		want time.Duration
	}{
		{0, 10 * time.Second},
		{50, 10 * time.Second},
		{75, 5 * time.Second},
		{90, 2 * time.Second},
		{99, minTCPIdleTimeout},
		{100, minTCPIdleTimeout},
	}
	for _, tt := range tests {
		if got := s.idleTimeout(tt.open); got != tt.want {
			t.Errorf("idleTimeout(%d of 100) = %v, want %v", tt.open, got, tt.want)
		}
	}
}

func TestRRLLimitsAUDPBurstPerSourceButNotTCP(t *testing.T) {
	// 10 answers per key and 10 s window: a burst of 40 crossing a window
	// boundary may get 20.
	l, err := rrl.New(rrl.Config{Rate: 1, Window: 10 * time.Second, Slip: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Options{RRL: l, UDPSockets: 1})
	udpFrom := func(src string) *net.UDPConn {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, net.UDPAddrFromAddrPort(mustAddrPort(t, s.UDPAddr())))
		if err != nil {
			t.Skipf("cannot bind %s: %v", src, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	q := pack(t, query("www.example.com.", dns.TypeA, 0))
	burst := udpFrom("127.0.0.2")
	for range 40 {
		if _, err := burst.Write(q); err != nil {
			t.Fatal(err)
		}
	}
	full, truncated := 0, 0
	buf := make([]byte, 2048)
	for {
		burst.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := burst.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			break
		}
		var m dns.Msg
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if m.Truncated {
			truncated++
		} else {
			full++
		}
	}
	if full < 10 || full > 20 || truncated < 10 || full+truncated >= 40 {
		t.Errorf("burst of 40: %d answered, %d slipped, want 10-20 answered, every second of the rest slipped, some dropped", full, truncated)
	}
	dropped := testutil.ToFloat64(s.h.metrics.rrlDropped)
	if slipped := testutil.ToFloat64(s.h.metrics.rrlSlipped); int(slipped) != truncated || int(dropped)+truncated+full != 40 {
		t.Errorf("metrics: %v dropped, %v slipped; client saw %d answered, %d slipped", dropped, slipped, full, truncated)
	}

	other := udpFrom("127.0.1.2") // another /24
	other.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := other.Write(q); err != nil {
		t.Fatal(err)
	}
	if n, err := other.Read(buf); err != nil || n <= len(q) {
		t.Errorf("another source: %d bytes, %v", n, err)
	}

	tcp := dialFrom(t, s, "127.0.0.2")
	for i := range 30 {
		if !ask(t, tcp) {
			t.Fatalf("tcp query %d from the limited source not answered", i)
		}
	}
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func TestServeInlineWildcardReportsTheZoneOfWildcardAnswers(t *testing.T) {
	z, err := zonecache.Build(zonetest.Zone(t, zonetest.Header("example.com.", 1), "www IN A 192.0.2.1\n*.wild IN A 192.0.2.9\n"))
	if err != nil {
		t.Fatal(err)
	}
	set := zonecache.NewSet()
	set.Put(z)
	h := NewHandler(answer.New(answer.Config{Zones: set}), nil)
	h.SetReady(true)
	tests := []struct {
		name, qname, want string
	}{
		{"wildcard answer, engine", "a.wild.example.com.", "example.com."},
		{"wildcard answer, cache hit", "a.wild.example.com.", "example.com."},
		{"wildcard answer, mixed case", "B.Wild.example.com.", "example.com."},
		{"plain answer", "www.example.com.", ""},
		{"nxdomain", "nope.example.com.", ""},
	}
	out := make([]byte, 0, 1024)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, deferred, zone := h.ServeInlineWildcard(context.Background(), pack(t, query(tt.qname, dns.TypeA, 0)), false, out)
			if b == nil || deferred || zone != tt.want {
				t.Errorf("answer %d bytes, deferred %v, wildcard zone %q; want %q", len(b), deferred, zone, tt.want)
			}
		})
	}
	q := pack(t, query("a.wild.example.com.", dns.TypeA, 0))
	if n := testing.AllocsPerRun(100, func() { h.ServeInlineWildcard(context.Background(), q, false, out) }); n != 0 {
		t.Errorf("cached wildcard answer allocates %v times", n)
	}
}
