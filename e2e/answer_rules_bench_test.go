package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// flipZones is how many zones the enforce DNS-only benchmark's account
// holds.
const flipZones = 10_000

// BenchmarkEnforceDNSOnlyFlip measures the time from the acknowledgement of
// UpdateAccountSettings(enforce_dns_only) until every edge answers a sample
// of the account's 10,000 zones (the first, the last and 50 random ones,
// each with one proxied A record at the apex) accordingly: their origin
// address when enforced, the anycast pool when not. Iterations alternate on
// and off; p50/p99/max over them are reported. The zones are created once,
// concurrently through the gRPC API; the 1-edge run goes first, then two
// edges are added (they load the 10,000 zones at start) for the 3-edge run.
//
//	go test -run '^$' -bench BenchmarkEnforceDNSOnlyFlip -benchtime 20x -timeout 30m ./e2e/
func BenchmarkEnforceDNSOnlyFlip(b *testing.B) {
	c := newCluster(b, 1, quiet())
	zones := createFlipZones(b, c, flipZones)

	rng := rand.New(rand.NewPCG(1, 2))
	sample := []int{0, flipZones - 1}
	for len(sample) < 52 {
		if i := rng.IntN(flipZones); !slices.Contains(sample, i) {
			sample = append(sample, i)
		}
	}
	pool := map[string]bool{}
	for _, a := range testAnycastV4 {
		pool[a.String()] = true
	}
	enforced := false
	for _, edges := range []int{1, 3} {
		for len(c.edges) < edges {
			// A new edge replays every zone before it is ready: allow more
			// than the cluster's usual 20 s for 10,000 of them.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			start := time.Now()
			c.addEdge(ctx)
			cancel()
			b.Logf("edge %d ready with %d zones in %v", len(c.edges), flipZones, time.Since(start).Round(time.Millisecond))
		}
		b.Run(fmt.Sprintf("edges=%d", edges), func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				enforced = !enforced
				// Not c.setEnforceDNSOnly: it fails the parent benchmark,
				// which must not be done from this one.
				if _, err := c.settings.UpdateAccountSettings(c.ctx(), &dnsv1.UpdateAccountSettingsRequest{
					AccountId:  "bench",
					Settings:   &dnsv1.AccountSettings{EnforceDnsOnly: enforced},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enforce_dns_only"}},
				}); err != nil {
					b.Fatalf("set enforce_dns_only=%v: %v", enforced, err)
				}
				acked := time.Now()
				worst := c.slowestEdge(func(addr string) time.Duration {
					return waitForAll(b, addr, zones, sample, enforced, pool, acked, time.Minute)
				})
				lat = append(lat, worst)
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

// flipZone is one zone of the flip benchmark and its origin address.
type flipZone struct{ name, origin string }

// createFlipZones creates n zones of account "bench", each with a proxied A
// record at the apex, through the gRPC API with concurrent clients, and
// waits until the edges answer the last one.
func createFlipZones(b *testing.B, c *cluster, n int) []flipZone {
	b.Helper()
	zones := make([]flipZone, n)
	for i := range zones {
		zones[i] = flipZone{name: fmt.Sprintf("flip-%05d.test.", i), origin: addrFor(i)}
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				z, err := c.zones.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "bench", Name: zones[i].name})
				if err == nil {
					_, err = c.records.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: z.GetZone().GetId(),
						Record: &dnsv1.Record{Name: "@", Type: "A", Content: zones[i].origin, Proxied: true}})
				}
				cancel()
				if err != nil {
					errs <- fmt.Errorf("zone %s: %w", zones[i].name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	created := time.Since(start)
	waitBuilderCaughtUp(b, c)
	for _, e := range c.edges {
		// The builder publishes behind the writes (on a loaded machine by
		// minutes): poll gently, not to slow it down further.
		last := zones[n-1]
		deadline := time.Now().Add(15 * time.Minute)
		for {
			m, err := exchange(e.UDPAddr(), last.name, dns.TypeA, false)
			if err == nil && flipAnswered(m, last.origin, false, nil) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s never answered %s as proxied", e.UDPAddr(), last.name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	b.Logf("%d zones with a proxied record created through the API in %v (%.0f zones/s), on the edges after %v",
		n, created.Round(time.Millisecond), float64(n)/created.Seconds(), time.Since(start).Round(time.Millisecond))
	return zones
}

// waitBuilderCaughtUp waits until the zone builder has published every data
// write made so far, so that a measurement does not start while the builder
// is still catching up with a bulk load.
func waitBuilderCaughtUp(b *testing.B, c *cluster) {
	b.Helper()
	st := c.cp.Store()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// The newest data key's mod revision: the builder's own progress key
	// lives outside the data prefix and does not count.
	resp, err := st.Client().Get(ctx, st.DataPrefix(), append(clientv3.WithLastRev(), clientv3.WithPrefix())...)
	if err != nil {
		b.Fatalf("read the last data revision: %v", err)
	}
	if len(resp.Kvs) == 0 {
		b.Fatal("no data in etcd")
	}
	last := resp.Kvs[0].ModRevision
	for {
		rev, err := st.BuilderRevision(ctx)
		if err != nil {
			b.Fatalf("builder revision: %v", err)
		}
		if rev >= last {
			return
		}
		select {
		case <-ctx.Done():
			b.Fatalf("builder at revision %d, never reached %d", rev, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitForAll polls addr until every sampled zone answers as enforced says
// (the origin address, or two addresses of pool; a nil pool accepts any
// answer that is not the origin) and returns how long after since that was,
// giving up after limit.
// Until the first sampled zone has flipped only that one is asked, one
// query at a time: polling the whole sample continuously on three edges
// would take the CPU the edges need to apply the change. From then on each
// pass sends the queries of every pending zone back to back on one socket
// and then reads the answers, so that a pass costs about the edge's time to
// answer them, not the sum of round trips. It may run in its own
// goroutine, so it reports failure with Errorf.
func waitForAll(tb testing.TB, addr string, zones []flipZone, sample []int, enforced bool, pool map[string]bool, since time.Time, limit time.Duration) time.Duration {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		tb.Errorf("dial %s: %v", addr, err)
		return 0
	}
	defer conn.Close()
	co := &dns.Conn{Conn: conn}
	pending := slices.Clone(sample)
	probing := true
	deadline := since.Add(limit)
	for pass := 0; len(pending) > 0; pass++ {
		if time.Now().After(deadline) {
			tb.Errorf("%s: %d sampled zones never answered enforced=%v, first %s", addr, len(pending), enforced, zones[pending[0]].name)
			return time.Since(since)
		}
		// Ids tell the passes apart, so that a late answer from an
		// earlier pass is not taken for this one's.
		base := uint16(pass * len(sample))
		batch := pending
		if probing {
			batch = pending[:1]
		}
		for j, i := range batch {
			q := new(dns.Msg)
			q.SetQuestion(zones[i].name, dns.TypeA)
			q.Id = base + uint16(j)
			if err := co.WriteMsg(q); err != nil {
				tb.Errorf("query %s: %v", addr, err)
				return 0
			}
		}
		done := make([]bool, len(pending))
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		for got := 0; got < len(batch); {
			m, err := co.ReadMsg()
			if err != nil {
				break // timeout: what is unanswered stays pending
			}
			j := int(m.Id - base)
			if j < 0 || j >= len(batch) || done[j] || len(m.Question) != 1 || m.Question[0].Name != zones[pending[j]].name {
				continue
			}
			done[j] = flipAnswered(m, zones[pending[j]].origin, enforced, pool)
			got++
		}
		probing = probing && !done[0]
		left := pending[:0]
		for j, i := range pending {
			if !done[j] {
				left = append(left, i)
			}
		}
		pending = left
		if len(pending) > 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	return time.Since(since)
}

func flipAnswered(m *dns.Msg, origin string, enforced bool, pool map[string]bool) bool {
	var got []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			got = append(got, a.A.String())
		}
	}
	if enforced {
		return len(got) == 1 && got[0] == origin
	}
	if len(got) == 0 || slices.Contains(got, origin) {
		return false
	}
	for _, a := range got {
		if pool != nil && !pool[a] {
			return false
		}
	}
	return true
}

// BenchmarkEdgeQueries measures how many queries per second one in-process
// edge answers over real UDP sockets, from parallel clients (16 goroutines,
// each with its own socket), for three kinds of names: a proxied A record,
// an apex CNAME flattened onto an external target (answered from the
// resolver's cache: the test upstream's TTL is an hour) and a plain A
// record. Every response is checked.
//
//	go test -run '^$' -bench BenchmarkEdgeQueries -benchtime 3s ./e2e/
func BenchmarkEdgeQueries(b *testing.B) {
	up := newTestUpstream(b)
	up.set(b, "origin.upstream.example.", dns.TypeA, "origin.upstream.example. 3600 IN A 198.51.100.80")
	c := newCluster(b, 1, quiet(), withUpstreams(up.addr))
	z := c.createZone("bench", "qps.test", dnsv1.Plan_PLAN_FREE)
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "proxied", Type: "A", Content: "203.0.113.80", Proxied: true})
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "plain", Type: "A", Content: "203.0.113.81", Ttl: 3600})
	c.createRecord(z.GetId(), &dnsv1.Record{Name: "@", Type: "CNAME", Content: "origin.upstream.example", Ttl: 3600})
	v4 := anycastFor(z.GetId(), testAnycastV4)
	cases := []struct {
		kind, name string
		want       []string
	}{
		{"proxied", "proxied.qps.test.", v4},
		{"flattened", "qps.test.", []string{"198.51.100.80"}},
		{"plain", "plain.qps.test.", []string{"203.0.113.81"}},
	}
	for _, tc := range cases {
		c.eventually(tc.kind+" answered", answerIs(tc.name, dns.TypeA, dns.RcodeSuccess, tc.want...))
	}
	addr := c.edges[0].UDPAddr()
	for _, tc := range cases {
		b.Run(tc.kind, func(b *testing.B) {
			var bad atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				conn, err := net.Dial("udp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer conn.Close()
				co := &dns.Conn{Conn: conn}
				q := new(dns.Msg)
				q.SetQuestion(tc.name, dns.TypeA)
				for pb.Next() {
					q.Id = dns.Id()
					if err := co.WriteMsg(q); err != nil {
						bad.Add(1)
						continue
					}
					_ = conn.SetReadDeadline(time.Now().Add(time.Second))
					m, err := co.ReadMsg()
					if err != nil || m.Id != q.Id || m.Rcode != dns.RcodeSuccess || len(m.Answer) != len(tc.want) {
						bad.Add(1)
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if n := bad.Load(); n > 0 {
				b.Errorf("%d of %d queries failed or answered wrongly", n, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "queries/s")
		})
	}
}
