package resolver

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// upstream is a real DNS server on 127.0.0.1 whose behaviour tests switch.
type upstream struct {
	addr    string
	queries atomic.Int32
	mu      sync.Mutex
	mode    string // "ok", "servfail", "slow", "nxdomain"
	ip      string
	delay   time.Duration
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{mode: "ok", ip: "203.0.113.1", delay: 300 * time.Millisecond}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(u.serve)}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return u
}

func (u *upstream) set(mode, ip string) {
	u.mu.Lock()
	u.mode, u.ip = mode, ip
	u.mu.Unlock()
}

func (u *upstream) serve(w dns.ResponseWriter, req *dns.Msg) {
	u.queries.Add(1)
	u.mu.Lock()
	mode, ip, delay := u.mode, u.ip, u.delay
	u.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	switch mode {
	case "servfail":
		m.Rcode = dns.RcodeServerFailure
	case "nxdomain":
		m.Rcode = dns.RcodeNameError
	case "slow":
		time.Sleep(delay)
		fallthrough
	default:
		rr, _ := dns.NewRR(req.Question[0].Name + " 60 IN A " + ip)
		m.Answer = append(m.Answer, rr)
	}
	w.WriteMsg(m)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newResolver(t *testing.T, u *upstream, c *clock) *Resolver {
	t.Helper()
	r, err := New(Config{Upstreams: []string{u.addr}, Timeout: 2 * time.Second, StaleAfter: 100 * time.Millisecond,
		MaxStale: time.Hour, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func resolveA(t *testing.T, r *Resolver) (string, uint32, error) {
	t.Helper()
	rrs, err := r.Resolve(context.Background(), "target.example.", dns.TypeA)
	if err != nil {
		return "", 0, err
	}
	if len(rrs) != 1 {
		t.Fatalf("got %d records", len(rrs))
	}
	return rrs[0].(*dns.A).A.String(), rrs[0].Header().Ttl, nil
}

func TestResolverCachesByTTL(t *testing.T) {
	u := startUpstream(t)
	c := &clock{t: time.Unix(1_000_000, 0)}
	r := newResolver(t, u, c)
	tests := []struct {
		name        string
		advance     time.Duration
		mode, ip    string
		wantIP      string
		wantTTL     uint32
		wantQueries int32
	}{
		{"miss asks the upstream", 0, "ok", "203.0.113.1", "203.0.113.1", 60, 1},
		{"fresh entry answered from cache with aged ttl", 20 * time.Second, "ok", "203.0.113.2", "203.0.113.1", 40, 1},
		{"expired entry refreshed", 50 * time.Second, "ok", "203.0.113.2", "203.0.113.2", 60, 2},
		{"expired entry served stale on servfail", 61 * time.Second, "servfail", "", "203.0.113.2", 30, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.add(tt.advance)
			u.set(tt.mode, tt.ip)
			ip, ttl, err := resolveA(t, r)
			if err != nil {
				t.Fatal(err)
			}
			if ip != tt.wantIP || ttl != tt.wantTTL || u.queries.Load() != tt.wantQueries {
				t.Errorf("got %s ttl %d after %d upstream queries, want %s ttl %d after %d",
					ip, ttl, u.queries.Load(), tt.wantIP, tt.wantTTL, tt.wantQueries)
			}
		})
	}
}

func TestResolverServesStaleWhileSlowRefreshCompletes(t *testing.T) {
	u := startUpstream(t)
	c := &clock{t: time.Unix(1_000_000, 0)}
	r := newResolver(t, u, c)
	if _, _, err := resolveA(t, r); err != nil {
		t.Fatal(err)
	}
	c.add(2 * time.Minute)
	u.set("slow", "203.0.113.9")
	ip, ttl, err := resolveA(t, r)
	if err != nil || ip != "203.0.113.1" || ttl != staleTTL {
		t.Fatalf("slow upstream: got %s ttl %d err %v, want the stale answer", ip, ttl, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ip, _, err := resolveA(t, r)
		if err == nil && ip == "203.0.113.9" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background refresh never landed in the cache")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestResolverFailures(t *testing.T) {
	tests := []struct {
		name    string
		prime   bool
		advance time.Duration
		mode    string
		wantErr bool
	}{
		{"servfail without a cached answer is an error", false, 0, "servfail", true},
		{"stale beyond MaxStale is not served", true, 2 * time.Hour, "servfail", true},
		{"nxdomain is an empty answer, not an error", false, 0, "nxdomain", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := startUpstream(t)
			c := &clock{t: time.Unix(1_000_000, 0)}
			r := newResolver(t, u, c)
			if tt.prime {
				if _, _, err := resolveA(t, r); err != nil {
					t.Fatal(err)
				}
			}
			c.add(tt.advance)
			u.set(tt.mode, "")
			rrs, err := r.Resolve(context.Background(), "target.example.", dns.TypeA)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrUpstream) {
				t.Errorf("err = %v, want ErrUpstream", err)
			}
			if err == nil && len(rrs) != 0 {
				t.Errorf("got %d records, want none", len(rrs))
			}
		})
	}
}

func TestResolverSharesConcurrentMisses(t *testing.T) {
	u := startUpstream(t)
	u.set("slow", "203.0.113.1")
	c := &clock{t: time.Unix(1_000_000, 0)}
	r := newResolver(t, u, c)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := r.Resolve(context.Background(), "target.example.", dns.TypeA); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := u.queries.Load(); n != 1 {
		t.Errorf("%d upstream queries for 20 concurrent misses, want 1", n)
	}
}

func TestResolverRejectsBadConfig(t *testing.T) {
	for _, ups := range [][]string{nil, {"no-port"}, {":53"}} {
		if _, err := New(Config{Upstreams: ups}); err == nil {
			t.Errorf("upstreams %q accepted", ups)
		}
	}
}
