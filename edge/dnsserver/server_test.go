package dnsserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/rrl"
	"github.com/zonegrid/zonegrid/edge/zonecache"
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

func TestServerSpreadsUDPOverReusePortSockets(t *testing.T) {
	s, err := ListenOptions(Options{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", UDPSockets: 4, Batch: 8}, testHandler(t), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(func() { s.Close() })
	if want := 4; reusePortSupported && len(s.udp) != want {
		t.Fatalf("%d udp sockets, want %d", len(s.udp), want)
	}
	// Many client sockets (source ports), so that the kernel's hash
	// spreads them over the server's sockets; every one is answered.
	for i := range 32 {
		c := &dns.Client{Timeout: 2 * time.Second}
		r, _, err := c.Exchange(query("www.example.com.", dns.TypeA, 1232), s.UDPAddr())
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("client %d: %v %v", i, r, err)
		}
	}
}

// blockingResolver answers only once released.
type blockingResolver struct{ release chan struct{} }

func (b blockingResolver) Resolve(ctx context.Context, name string, _ uint16) ([]dns.RR, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rr, err := dns.NewRR(name + " 60 IN A 203.0.113.7")
	return []dns.RR{rr}, err
}

func TestServerSlowUpstreamDoesNotStallTheSocket(t *testing.T) {
	z, err := zonecache.Build(zonetest.Zone(t, zonetest.Header("example.com.", 1),
		"www IN A 192.0.2.1\next IN CNAME target.elsewhere.net. ; flatten\n"))
	if err != nil {
		t.Fatal(err)
	}
	set := zonecache.NewSet()
	set.Put(z)
	res := blockingResolver{release: make(chan struct{})}
	h := NewHandler(answer.New(answer.Config{Zones: set, Resolver: res}), nil)
	h.SetReady(true)
	// One socket, one reader loop: a stall would block everything.
	s, err := ListenOptions(Options{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", UDPSockets: 1}, h, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(func() { s.Close() })

	slow := make(chan *dns.Msg, 1)
	go func() {
		r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(query("ext.example.com.", dns.TypeA, 0), s.UDPAddr())
		if err != nil {
			t.Error(err)
		}
		slow <- r
	}()
	for i := range 5 {
		r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(query("www.example.com.", dns.TypeA, 0), s.UDPAddr())
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("query %d while the upstream hangs: %v %v", i, r, err)
		}
	}
	select {
	case <-slow:
		t.Fatal("flattened answer came before the upstream answered")
	default:
	}
	close(res.release)
	if r := <-slow; r == nil || len(r.Answer) != 1 || r.Answer[0].Header().Name != "ext.example.com." {
		t.Fatalf("flattened answer %v", r)
	}
}

// BenchmarkServerUDP measures the UDP path end to end over loopback:
// batched receive, the handler (answer cache hit) and batched send. The
// clients are connected sockets doing one query at a time; the figure
// includes their system calls, and allocs/op is the server's (the clients
// allocate nothing).
func BenchmarkServerUDP(b *testing.B) { benchServerUDP(b, nil) }

// BenchmarkServerUDPPortable is BenchmarkServerUDP on the portable path
// (x/net batches) where the Linux one would serve.
func BenchmarkServerUDPPortable(b *testing.B) {
	benchServerUDPOptions(b, Options{portableUDP: true})
}

// BenchmarkServerUDPWithRRL is BenchmarkServerUDP with response rate
// limiting on (at a rate no query reaches): the limiter's cost per query.
func BenchmarkServerUDPWithRRL(b *testing.B) {
	l, err := rrl.New(rrl.Config{Rate: 1 << 30, Slip: rrl.DefaultSlip})
	if err != nil {
		b.Fatal(err)
	}
	benchServerUDP(b, l)
}

func benchServerUDP(b *testing.B, l *rrl.Limiter) { benchServerUDPOptions(b, Options{RRL: l}) }

func benchServerUDPOptions(b *testing.B, o Options) {
	o.UDPAddr, o.TCPAddr = "127.0.0.1:0", "127.0.0.1:0"
	s, err := ListenOptions(o, testHandler(b), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	s.Start(context.Background())
	b.Cleanup(func() { s.Close() })
	q := pack(b, query("www.example.com.", dns.TypeA, 1232))
	b.ReportAllocs()
	b.ResetTimer() // not the setup's allocations (the zone, RRL's table)
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("udp", s.UDPAddr())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, 2048)
		for pb.Next() {
			if _, err := c.Write(q); err != nil {
				b.Error(err)
				return
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Read(buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestUDPPathsAnswerEveryClient runs the Linux batch path (recvmmsg and
// sendmmsg over preallocated headers, as raw system calls, the default,
// and as plain ones) and the portable one (x/net) on IPv4 and IPv6 with
// several clients sending bursts at once: every query gets its answer, at
// the client that sent it, with its id and its question's bytes (mixed
// case included).
func TestUDPPathsAnswerEveryClient(t *testing.T) {
	for _, path := range []struct {
		name          string
		portable, raw bool
	}{{"linux", false, false}, {"linux-raw", false, true}, {"portable", true, false}} {
		for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
			t.Run(fmt.Sprintf("%s %s", path.name, addr), func(t *testing.T) {
				o := Options{UDPAddr: addr, TCPAddr: addr, UDPSockets: 1, Batch: 8, portableUDP: path.portable, UDPPlainSyscalls: !path.raw}
				s, err := ListenOptions(o,
					testHandler(t), zaptest.NewLogger(t))
				if err != nil {
					t.Skipf("cannot listen on %s: %v", addr, err)
				}
				s.Start(context.Background())
				t.Cleanup(func() { s.Close() })
				names := []string{"www.example.com.", "WwW.eXaMpLe.CoM.", "alias.example.com.", "nope.Example.com."}
				var wg sync.WaitGroup
				for c := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						conn, err := net.Dial("udp", s.UDPAddr())
						if err != nil {
							t.Error(err)
							return
						}
						defer conn.Close()
						const burst = 20 // more than a batch
						sent := map[uint16][]byte{}
						for i := range burst {
							m := query(names[(c+i)%len(names)], dns.TypeA, 1232)
							m.Id = uint16(c<<8 | i)
							q := pack(t, m)
							sent[m.Id] = q
							if _, err := conn.Write(q); err != nil {
								t.Error(err)
								return
							}
						}
						buf := make([]byte, 2048)
						for range burst {
							conn.SetReadDeadline(time.Now().Add(2 * time.Second))
							n, err := conn.Read(buf)
							if err != nil {
								t.Errorf("client %d: %d of %d answers: %v", c, burst-len(sent), burst, err)
								return
							}
							id := binary.BigEndian.Uint16(buf)
							q, ok := sent[id]
							if !ok {
								t.Errorf("client %d: answer with id %d it did not ask or got twice", c, id)
								continue
							}
							delete(sent, id)
							qEnd := questionEnd(q)
							if n < qEnd || !bytes.Equal(buf[headerLen:qEnd], q[headerLen:qEnd]) {
								t.Errorf("client %d: answer %d has question %q, want %q", c, id, buf[headerLen:min(n, qEnd)], q[headerLen:qEnd])
							}
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}
