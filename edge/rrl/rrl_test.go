package rrl

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func packed(tb testing.TB, m *dns.Msg) []byte {
	tb.Helper()
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func rr(tb testing.TB, s string) dns.RR {
	tb.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func reply(tb testing.TB, name string, rcode int, aa bool, an, ns []string) []byte {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.Response, m.Authoritative, m.Rcode = true, aa, rcode
	for _, s := range an {
		m.Answer = append(m.Answer, rr(tb, s))
	}
	for _, s := range ns {
		m.Ns = append(m.Ns, rr(tb, s))
	}
	return packed(tb, m)
}

const soa = "example.com. 300 IN SOA ns1.example.net. hostmaster.example.com. 1 7200 900 1209600 300"

func TestClassifyKeysByTheRightName(t *testing.T) {
	tests := []struct {
		name      string
		resp      []byte
		class     Class
		keyedName string // "" = no name in the key
	}{
		{"positive answer: query name", reply(t, "WWW.example.com.", 0, true, []string{"www.example.com. 60 IN A 192.0.2.1"}, nil), Positive, "www.example.com."},
		{"nxdomain: the zone, so a random-name flood is one key", reply(t, "x1.example.com.", 3, true, nil, []string{soa}), NXDomain, "example.com."},
		{"nxdomain after a cname: the zone", reply(t, "alias.example.com.", 3, true, []string{"alias.example.com. 60 IN CNAME gone.example.com."}, []string{soa}), NXDomain, "example.com."},
		{"nodata: the zone", reply(t, "www.example.com.", 0, true, nil, []string{soa}), NoData, "example.com."},
		{"referral: the delegation", reply(t, "a.sub.example.com.", 0, false, nil, []string{"sub.example.com. 300 IN NS ns.sub.example.com."}), Referral, "sub.example.com."},
		{"refused: no name", reply(t, "www.other.org.", dns.RcodeRefused, false, nil, nil), Error, ""},
		{"servfail: no name", reply(t, "www.example.com.", dns.RcodeServerFailure, false, nil, nil), Error, ""},
		{"garbage: error", []byte{1, 2, 3}, Error, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class, off := Classify(tt.resp)
			if class != tt.class {
				t.Errorf("class %v, want %v", class, tt.class)
			}
			got := ""
			if off > 0 {
				var key [keyLen]byte
				n := appendName(key[:], 0, tt.resp, off)
				name, _, err := dns.UnpackDomainName(append(key[:n:n], 0), 0)
				if err != nil {
					t.Fatal(err)
				}
				got = name
			}
			if got != tt.keyedName {
				t.Errorf("keyed by %q, want %q", got, tt.keyedName)
			}
		})
	}
}

func TestLimiterDropsAndSlipsPerPrefixAndClass(t *testing.T) {
	l, err := New(Config{Rate: 10, Slip: 2})
	if err != nil {
		t.Fatal(err)
	}
	pos := reply(t, "www.example.com.", 0, true, []string{"www.example.com. 60 IN A 192.0.2.1"}, nil)
	nx := reply(t, "x.example.com.", 3, true, nil, []string{soa})
	now := time.Unix(1000, 0).UnixNano()
	tally := func(ip string, resp []byte, n int, at int64) map[Action]int {
		got := map[Action]int{}
		for range n {
			got[l.Check(at, net.ParseIP(ip), resp, "")]++
		}
		return got
	}
	if got := tally("192.0.2.1", pos, 30, now); got[Send] != 10 || got[Slip] != 10 || got[Drop] != 10 {
		t.Errorf("burst of 30 at 10/s, slip 2: %v, want 10 sent, 10 slipped, 10 dropped", got)
	}
	// A wildcard zone's limit, spent on random names under it.
	for i := range 10 {
		r := reply(t, fmt.Sprintf("r%d.wild.example.com.", i), 0, true, []string{fmt.Sprintf("r%d.wild.example.com. 60 IN A 192.0.2.1", i)}, nil)
		if a := l.Check(now, net.ParseIP("192.0.2.1"), r, "example.com."); a != Send {
			t.Fatalf("wildcard answer %d: %v", i, a)
		}
	}
	tests := []struct {
		name string
		ip   string
		resp []byte
		wild string
		at   int64
		want Action
	}{
		{"same /24 shares the key", "192.0.2.77", pos, "", now, Drop},
		{"another /24 is answered", "192.0.3.1", pos, "", now, Send},
		{"another class from the same source is answered", "192.0.2.1", nx, "", now, Send},
		{"next window is answered", "192.0.2.1", pos, "", now + int64(time.Second), Send},
		{"ipv6 source is answered", "2001:db8::1", pos, "", now, Send},
		{"a new name under the spent wildcard is limited", "192.0.2.1",
			reply(t, "fresh.wild.example.com.", 0, true, []string{"fresh.wild.example.com. 60 IN A 192.0.2.1"}, nil), "example.com.", now, Drop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := l.Check(tt.at, net.ParseIP(tt.ip), tt.resp, tt.wild)
			if a == Slip {
				a = Drop // which of the two depends on the drop count
			}
			if a != tt.want {
				t.Errorf("action %v, want %v", a, tt.want)
			}
		})
	}
}

func TestLimiterIPv6PrefixAndOff(t *testing.T) {
	l, err := New(Config{Rate: 1, Slip: 0})
	if err != nil {
		t.Fatal(err)
	}
	pos := reply(t, "www.example.com.", 0, true, []string{"www.example.com. 60 IN A 192.0.2.1"}, nil)
	if a := l.Check(0, net.ParseIP("2001:db8:0:ff::1"), pos, ""); a != Send {
		t.Fatalf("first: %v", a)
	}
	if a := l.Check(0, net.ParseIP("2001:db8:0:1::2"), pos, ""); a != Drop {
		t.Errorf("same /56, slip 0: %v, want drop", a)
	}
	if a := l.Check(0, net.ParseIP("2001:db8:0:100::1"), pos, ""); a != Send {
		t.Errorf("another /56: %v, want send", a)
	}
	off, err := New(Config{})
	if err != nil || off != nil {
		t.Fatalf("zero config: %v %v, want nil (off)", off, err)
	}
	if a := off.Check(0, net.ParseIP("192.0.2.1"), pos, ""); a != Send {
		t.Errorf("nil limiter: %v", a)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{{Rate: -1}, {Rate: 1, Slip: -1}, {Rate: 1, IPv4PrefixLen: 33}, {Rate: 1, IPv6PrefixLen: 129}, {Rate: 1, Window: time.Millisecond}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

func TestTruncateKeepsHeaderAndQuestion(t *testing.T) {
	b := reply(t, "www.example.com.", 0, true, []string{"www.example.com. 60 IN A 192.0.2.1"}, []string{soa})
	var m dns.Msg
	if err := m.Unpack(Truncate(b)); err != nil {
		t.Fatal(err)
	}
	if !m.Truncated || !m.Authoritative || len(m.Question) != 1 || len(m.Answer)+len(m.Ns)+len(m.Extra) != 0 {
		t.Errorf("slip answer %v", &m)
	}
}

// BenchmarkCheck is the limiter's cost per UDP response (a positive
// answer, the key under its limit), the figure in docs/BENCHMARKS.md.
func BenchmarkCheck(b *testing.B) {
	l, err := New(Config{Rate: 1 << 30, Slip: DefaultSlip})
	if err != nil {
		b.Fatal(err)
	}
	resp := reply(b, "www.example.com.", 0, true, []string{"www.example.com. 60 IN A 192.0.2.1"}, nil)
	ip := net.ParseIP("192.0.2.1").To4()
	now := time.Now().UnixNano()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if l.Check(now, ip, resp, "") != Send {
				b.Fatal("limited")
			}
		}
	})
}

// BenchmarkCheckManySources is Check on one goroutine with a different
// /24 every query (65,536 of them): the slots miss the CPU cache as they
// would under a spoofed flood.
func BenchmarkCheckManySources(b *testing.B) {
	l, err := New(Config{Rate: DefaultRate, Slip: DefaultSlip})
	if err != nil {
		b.Fatal(err)
	}
	resp := reply(b, "www.example.com.", 0, true, []string{"www.example.com. 60 IN A 192.0.2.1"}, nil)
	ip := net.IPv4(10, 0, 0, 1).To4()
	now := time.Now().UnixNano()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ip[1], ip[2] = byte(i>>8), byte(i)
		i++
		l.Check(now, ip, resp, "")
	}
}
