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

	"github.com/zonegrid/zonegrid/controlplane/builder"
	"github.com/zonegrid/zonegrid/edge/follow"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// BenchmarkPropagation measures the time from the API's acknowledgement of a
// record change to the moment every edge answers with it. Each iteration
// patches one A record to a new address and polls every edge until all of
// them answer it; p50 and p99 over the iterations are reported, and the
// breakdown by stage (propagationStages) from the builder's and the
// followers' trace hooks.
//
//	cd e2e && go test -run '^$' -bench BenchmarkPropagation -benchtime 300x .
func BenchmarkPropagation(b *testing.B) {
	for _, edges := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("edges=%d", edges), func(b *testing.B) {
			tr := newPropagationTrace()
			c := newCluster(b, edges, quiet(), withTraces(tr.batch, tr.apply))
			z := c.createZone("bench", "propagation.test", dnsv1.Plan_PLAN_FREE)
			r := c.createRecord(z.GetId(), &dnsv1.Record{Name: "www", Type: "A", Content: "10.0.0.1", Ttl: 60})
			c.eventually("record loaded", answerIs("www.propagation.test.", dns.TypeA, dns.RcodeSuccess, "10.0.0.1"))
			tr.skip() // the set-up's values are no iteration's
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				want := addrFor(i)
				sent := time.Now()
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
				tr.iteration(sent, acked, acked.Add(worst))
			}
			b.StopTimer()
			reportPercentiles(b, lat)
			tr.report(b)
		})
	}
}

// propagationTrace collects the builder's batch traces and the followers'
// apply traces (controlplane/builder/trace.go, edge/follow/trace.go) and
// turns them into the per-stage breakdown of each iteration.
type propagationTrace struct {
	mu      sync.Mutex
	batches map[int64]builder.BatchTrace
	applied []follow.ApplyTrace // since the last iteration
	iters   []propagationIteration
}

// propagationIteration is one change: when the API was called and
// answered, when the last edge answered, and what the edges applied.
type propagationIteration struct {
	sent, acked, answered time.Time
	applied               []follow.ApplyTrace
}

func newPropagationTrace() *propagationTrace {
	return &propagationTrace{batches: map[int64]builder.BatchTrace{}}
}

// batch is the builder's trace function (builder.Config.Trace).
func (t *propagationTrace) batch(bt builder.BatchTrace) {
	t.mu.Lock()
	t.batches[bt.Revision] = bt
	t.mu.Unlock()
}

// apply is every edge's follow trace function (follow.Config.Trace).
func (t *propagationTrace) apply(at follow.ApplyTrace) {
	t.mu.Lock()
	t.applied = append(t.applied, at)
	t.mu.Unlock()
}

// skip forgets the values applied so far.
func (t *propagationTrace) skip() {
	t.mu.Lock()
	t.applied = nil
	t.mu.Unlock()
}

func (t *propagationTrace) iteration(sent, acked, answered time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.iters = append(t.iters, propagationIteration{sent: sent, acked: acked, answered: answered, applied: t.applied})
	t.applied = nil
}

// propagationStages are the stages reported, each the time from the end
// of the previous one; edge stages are taken at the slowest edge.
var propagationStages = []string{
	"api",      // PatchRecord sent → acknowledged (not part of propagation)
	"watch",    // ack → the builder's watch delivered the change (< 0: before the ack reached the client)
	"coalesce", // watch → coalescing window closed
	"read",     // → the zone read from etcd
	"encode",   // → compiled, encoded, signed
	"fence",    // → the fence proved the lease
	"put",      // → JetStream acknowledged the put (to the builder)
	"store",    // fence → the JetStream server's timestamp of the message
	"deliver",  // store → the last edge's watch received the value
	"verify",   // → its signature checked
	"apply",    // → decoded, indexed, swapped in
	"answer",   // → the last edge answered it (the poll)
	"revstore", // builder: batch published → builder revision stored in etcd (delays the next batch)
}

// stages returns the stage durations of one iteration, false when the
// traces are incomplete.
func (t *propagationTrace) stages(it propagationIteration) (map[string]time.Duration, bool) {
	var version uint64
	for _, a := range it.applied {
		version = max(version, a.Version)
	}
	bt, ok := t.batches[int64(version)]
	if !ok || bt.Put.IsZero() || version == 0 {
		return nil, false
	}
	var stored, recv, verified, applied time.Time
	for _, a := range it.applied {
		if a.Version != version {
			continue
		}
		stored = latest(stored, a.Stored)
		recv, verified, applied = latest(recv, a.Received), latest(verified, a.Verified), latest(applied, a.Applied)
	}
	return map[string]time.Duration{
		"api":      it.acked.Sub(it.sent),
		"watch":    bt.Watched.Sub(it.acked),
		"coalesce": bt.Coalesced.Sub(bt.Watched),
		"read":     bt.Read.Sub(bt.Coalesced),
		"encode":   bt.Encoded.Sub(bt.Read),
		"fence":    bt.Fenced.Sub(bt.Encoded),
		"put":      bt.Put.Sub(bt.Fenced),
		"store":    stored.Sub(bt.Fenced),
		"deliver":  recv.Sub(stored),
		"verify":   verified.Sub(recv),
		"apply":    applied.Sub(verified),
		"answer":   it.answered.Sub(applied),
		"revstore": bt.Stored.Sub(bt.Published),
	}, true
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// report adds "<stage>-p50-ms" and "<stage>-p99-ms" for every stage.
func (t *propagationTrace) report(b *testing.B) {
	t.mu.Lock()
	defer t.mu.Unlock()
	per := map[string][]time.Duration{}
	missing := 0
	for _, it := range t.iters {
		st, ok := t.stages(it)
		if !ok {
			missing++
			continue
		}
		for k, d := range st {
			per[k] = append(per[k], d)
		}
	}
	if missing > 0 {
		b.Logf("%d of %d iterations without a complete trace", missing, len(t.iters))
	}
	for _, s := range propagationStages {
		d := per[s]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		b.ReportMetric(percentileMs(d, 0.50), s+"-p50-ms")
		b.ReportMetric(percentileMs(d, 0.99), s+"-p99-ms")
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
// after since that was. It polls every 200µs over one UDP socket: a new
// socket per query cost more CPU than the edges' answers, on a machine
// whose two cores also run the control plane and the edges.
func waitFor(tb testing.TB, addr, name, want string, since time.Time) time.Duration {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	cl := &dns.Client{Timeout: time.Second}
	conn, err := cl.Dial(addr)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	deadline := since.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m, _, err := cl.ExchangeWithConn(q, conn)
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
	b.ReportMetric(percentileMs(lat, 0.50), "p50-ms")
	b.ReportMetric(percentileMs(lat, 0.99), "p99-ms")
	b.ReportMetric(percentileMs(lat, 1.0), "max-ms")
	b.ReportMetric(0, "ns/op")
}

// percentileMs is the q-quantile of sorted, in milliseconds.
func percentileMs(sorted []time.Duration, q float64) float64 {
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}
