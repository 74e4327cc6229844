package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// BenchmarkPropagation measures the time from the API's acknowledgement of a
// record change to the moment every edge answers with it. Each iteration
// patches one A record to a new address and polls every edge until all of
// them answer it; p50 and p99 over the iterations are reported.
//
//	go test -run '^$' -bench BenchmarkPropagation -benchtime 300x ./e2e/
func BenchmarkPropagation(b *testing.B) {
	for _, edges := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("edges=%d", edges), func(b *testing.B) {
			c := newCluster(b, edges, quiet())
			z := c.createZone("bench", "propagation.test", dnsv1.Plan_PLAN_FREE)
			r := c.createRecord(z.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "10.0.0.1", Ttl: 60})
			c.eventually("record loaded", answerIs("www.propagation.test.", dns.TypeA, dns.RcodeSuccess, "10.0.0.1"))

			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				want := addrFor(i)
				if _, err := c.records.PatchRecord(c.ctx(), &dnsv1.PatchRecordRequest{
					ZoneId: z.GetId(), RecordId: r.GetId(),
					Record:     &dnsv1.Record{Content: want},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"content"}},
				}); err != nil {
					b.Fatalf("patch: %v", err)
				}
				acked := time.Now()
				worst := c.slowestEdge(func(addr string) time.Duration {
					return waitFor(b, addr, "www.propagation.test.", want, acked)
				})
				lat = append(lat, worst)
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

// slowestEdge runs wait against every edge at once and returns the longest
// duration: a change has propagated when the last edge has it.
func (c *cluster) slowestEdge(wait func(addr string) time.Duration) time.Duration {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		worst time.Duration
	)
	for _, e := range c.edges {
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			d := wait(addr)
			mu.Lock()
			worst = max(worst, d)
			mu.Unlock()
		}(e.UDPAddr())
	}
	wg.Wait()
	return worst
}

func addrFor(i int) string {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
}

// waitFor polls addr until it answers name with want and returns how long
// after since that was.
func waitFor(tb testing.TB, addr, name, want string, since time.Time) time.Duration {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	cl := &dns.Client{Timeout: time.Second}
	deadline := since.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m, _, err := cl.Exchange(q, addr)
		if err == nil && len(m.Answer) == 1 {
			if a, ok := m.Answer[0].(*dns.A); ok && a.A.String() == want {
				return time.Since(since)
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	tb.Fatalf("%s never answered %s = %s", addr, name, want)
	return 0
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) float64 {
		i := int(q*float64(len(lat))+0.5) - 1
		i = max(0, min(i, len(lat)-1))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(p(1.0), "max-ms")
	b.ReportMetric(0, "ns/op")
}
