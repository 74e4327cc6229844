package e2e

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testUpstream stands in for the recursive resolvers an edge asks about
// external CNAME flattening targets (and for the resolver the control
// plane's delegation check asks): a real miekg/dns server on 127.0.0.1
// answering from a table, which a test can make SERVFAIL or slow.
type testUpstream struct {
	addr    string
	queries atomic.Int64

	mu       sync.Mutex
	answers  map[string][]dns.RR // key: lower-case FQDN + "/" + type
	servfail bool
	delay    time.Duration
}

func newTestUpstream(tb testing.TB) *testUpstream {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("test upstream: listen: %v", err)
	}
	u := &testUpstream{addr: pc.LocalAddr().String(), answers: map[string][]dns.RR{}}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: u, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		tb.Fatal("test upstream did not start")
	}
	tb.Cleanup(func() { _ = srv.Shutdown() })
	return u
}

func upstreamKey(name string, qtype uint16) string {
	return strings.ToLower(dns.Fqdn(name)) + "/" + dns.TypeToString[qtype]
}

// set makes the upstream answer name/qtype with these records, given in
// zone-file form ("x.example. 60 IN A 192.0.2.1"); no records means
// NXDOMAIN.
func (u *testUpstream) set(tb testing.TB, name string, qtype uint16, rrs ...string) {
	tb.Helper()
	parsed := make([]dns.RR, 0, len(rrs))
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			tb.Fatalf("test upstream record %q: %v", s, err)
		}
		parsed = append(parsed, rr)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.answers[upstreamKey(name, qtype)] = parsed
}

// setServfail makes every answer SERVFAIL (or not).
func (u *testUpstream) setServfail(on bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.servfail = on
}

// setDelay makes every answer wait d before it is sent.
func (u *testUpstream) setDelay(d time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.delay = d
}

func (u *testUpstream) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	u.queries.Add(1)
	u.mu.Lock()
	delay, servfail := u.delay, u.servfail
	var rrs []dns.RR
	if len(q.Question) == 1 {
		rrs = u.answers[upstreamKey(q.Question[0].Name, q.Question[0].Qtype)]
	}
	u.mu.Unlock()
	// The server runs each query in its own goroutine: sleeping here
	// delays this answer only.
	time.Sleep(delay)

	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	switch {
	case servfail || len(q.Question) != 1:
		m.Rcode = dns.RcodeServerFailure
	case len(rrs) == 0:
		m.Rcode = dns.RcodeNameError
		soa, _ := dns.NewRR("upstream.invalid. 60 IN SOA ns.upstream.invalid. h.upstream.invalid. 1 3600 600 86400 60")
		m.Ns = []dns.RR{soa}
	default:
		for _, rr := range rrs {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	_ = w.WriteMsg(m)
}

// answerWith is answerIs that also checks that every answer record is
// owned by the query name and carries this TTL.
func answerWith(name string, qtype uint16, ttl uint32, want ...string) func(string) error {
	return func(addr string) error {
		m, err := exchange(addr, name, qtype, false)
		if err != nil {
			return err
		}
		if m.Rcode != dns.RcodeSuccess {
			return fmt.Errorf("%s %s: rcode %s, want NOERROR", name, dns.TypeToString[qtype], dns.RcodeToString[m.Rcode])
		}
		if got := rdataOf(m.Answer); !sameSet(got, want) {
			return fmt.Errorf("%s %s: answer %q, want %q", name, dns.TypeToString[qtype], got, want)
		}
		for _, rr := range m.Answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, dns.Fqdn(name)) || h.Rrtype != qtype || h.Ttl != ttl {
				return fmt.Errorf("%s %s: record %q, want owner %s, type %s and TTL %d", name, dns.TypeToString[qtype], rr.String(), name, dns.TypeToString[qtype], ttl)
			}
		}
		return nil
	}
}

// isNODATA checks for NOERROR, an empty answer and the zone's SOA in the
// authority section.
func isNODATA(name string, qtype uint16) func(string) error {
	return func(addr string) error {
		m, err := exchange(addr, name, qtype, false)
		if err != nil {
			return err
		}
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA {
			return fmt.Errorf("%s %s: rcode %s answer %v authority %v, want NODATA with the SOA", name, dns.TypeToString[qtype], dns.RcodeToString[m.Rcode], m.Answer, m.Ns)
		}
		return nil
	}
}
