package zonecache

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// bigSnapshot is an encoded zone of n names with one A record each and a
// record id like the control plane's (32 hex characters).
func bigSnapshot(b *testing.B, n int) []byte {
	b.Helper()
	s := &snapshot.Zone{Header: zonetest.Header("big.test.", 1)}
	buf := make([]byte, 512)
	for i := range n {
		rr := &dns.A{Hdr: dns.RR_Header{Name: fmt.Sprintf("host%07d.big.test.", i), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
			A: []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}}
		m, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			b.Fatal(err)
		}
		s.Records = append(s.Records, &snapshot.Record{Id: fmt.Sprintf("%032x", i), Rr: append([]byte(nil), buf[:m]...)})
	}
	data, err := snapshot.MarshalZone(s)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkBuildBytes loads a 200,000-record zone and reports the heap the
// loaded zone keeps per record.
//
//	go test -run '^$' -bench BuildBytes -benchtime 3x ./zonecache/
func BenchmarkBuildBytes(b *testing.B) {
	const n = 200000
	data := bigSnapshot(b, n)
	b.ResetTimer()
	var z *Zone
	for range b.N {
		before := heapInUse()
		var err error
		if z, err = BuildBytes(data); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(heapInUse()-before)/n, "heap-B/record")
		b.StartTimer()
	}
	runtime.KeepAlive(z)
}

// BenchmarkApplyDelta changes one record of a 200,000-record zone.
//
//	go test -run '^$' -bench ApplyDelta ./zonecache/
func BenchmarkApplyDelta(b *testing.B) {
	z, err := BuildBytes(bigSnapshot(b, 200000))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 512)
	b.ResetTimer()
	for i := range b.N {
		rr := &dns.A{Hdr: dns.RR_Header{Name: "host0000007.big.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
			A: []byte{10, 9, byte(i >> 8), byte(i)}}
		m, _ := dns.PackRR(rr, buf, 0, nil, false)
		d := &snapshot.ZoneDelta{Name: "big.test.", FromVersion: z.Version, ToVersion: z.Version + 1,
			Upserts: []*snapshot.Record{{Id: fmt.Sprintf("%032x", 7), Rr: append([]byte(nil), buf[:m]...)}}}
		if z, err = ApplyDelta(z, d); err != nil {
			b.Fatal(err)
		}
	}
}
