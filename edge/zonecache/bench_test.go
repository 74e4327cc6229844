package zonecache

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
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

// cpuSeconds returns the CPU time the collector and the program itself
// have used so far (runtime/metrics' estimates).
func cpuSeconds() (gc, user float64) {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/user:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64(), s[1].Value.Float64()
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

// mixedSnapshot is an encoded zone of n names with benchzone's mix (the
// zone of docs/BENCHMARKS.md, "A zone of a million records"): 55% A (a third
// of them with AAAA too), 15% CNAME to an earlier name, 10% AAAA, 10% MX
// and A, 10% TXT; about 1.28 records per name.
func mixedSnapshot(b *testing.B, n int) ([]byte, int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	s := &snapshot.Zone{Header: zonetest.Header("bench.test.", 1)}
	buf := make([]byte, 512)
	add := func(rr dns.RR) {
		m, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			b.Fatal(err)
		}
		s.Records = append(s.Records, &snapshot.Record{Id: fmt.Sprintf("%032x", len(s.Records)), Rr: append([]byte(nil), buf[:m]...)})
	}
	for i := range n {
		name := fmt.Sprintf("host%05d.bench.test.", i)
		hdr := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 300}
		}
		a := &dns.A{Hdr: hdr(dns.TypeA), A: []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}}
		aaaa := &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.ParseIP(fmt.Sprintf("2001:db8::%x:%x", i>>16, i&0xffff))}
		switch r := rng.IntN(100); {
		case r < 55:
			add(a)
			if rng.IntN(3) == 0 {
				add(aaaa)
			}
		case r < 70:
			add(&dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: fmt.Sprintf("host%05d.bench.test.", rng.IntN(max(i, 1)))})
		case r < 80:
			add(aaaa)
		case r < 90:
			add(&dns.MX{Hdr: hdr(dns.TypeMX), Preference: 10, Mx: fmt.Sprintf("mx%d.example.net.", i%7)})
			add(a)
		default:
			add(&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{fmt.Sprintf("token-%d-%x", i, rng.Uint64())}})
		}
	}
	data, err := snapshot.MarshalZone(s)
	if err != nil {
		b.Fatal(err)
	}
	return data, len(s.Records)
}

// heapProfile names a file for the in-use heap profile taken while the
// zone of BenchmarkBuildMillion is held (-memprofile is written after the
// benchmark, when the zone is gone).
var heapProfile = flag.String("heapprofile", "", "write the heap profile with the million-name zone loaded to this file")

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBuildMillion loads the million-name zone of the bigzone
// benchmark (1.28 million records) and reports the heap the loaded zone
// keeps per record and in all. With -heapprofile the in-use profile
// taken while the zone is held shows where those bytes are.
//
//	go test -run '^$' -bench BuildMillion -benchtime 1x -memprofilerate 512 -o zc.test ./zonecache/ -args -heapprofile heap.out
//	go tool pprof -sample_index inuse_space -top zc.test heap.out
func BenchmarkBuildMillion(b *testing.B) {
	data, n := mixedSnapshot(b, 1000000)
	b.ResetTimer()
	var z *Zone
	for range b.N {
		z = nil
		before := heapInUse()
		gc0, user0 := cpuSeconds()
		var err error
		if z, err = BuildBytes(data); err != nil {
			b.Fatal(err)
		}
		gc1, user1 := cpuSeconds()
		b.StopTimer()
		// CPU seconds, not wall time, on a shared machine: the load's own
		// work and the collector's (the runtime's estimates).
		b.ReportMetric(user1-user0, "user-cpu-s")
		b.ReportMetric(gc1-gc0, "gc-cpu-s")
		inUse := heapInUse() - before
		// What the process keeps resident for it, fragmentation included:
		// the spans in use after the garbage is returned (what the edge
		// does at ready, edge/node/loadgc.go).
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "spans-MiB")
		b.ReportMetric(float64(inUse)/float64(n), "heap-B/record")
		b.ReportMetric(float64(inUse)/(1<<20), "heap-MiB")
		if *heapProfile != "" {
			writeHeapProfile(b, *heapProfile)
		}
		b.StartTimer()
	}
	runtime.KeepAlive(z)
}

// BenchmarkDeltasMillion applies 10,000 one-record deltas to the
// million-name zone, as bigzone's changes do (the same record each time, or
// a different one each time), and reports the live heap and the heap the
// process holds (spans in use, before any garbage is returned) after them
// against after the build: what a stream of deltas costs in memory (the
// snapshot's bytes, about 100 MiB, are part of the live heap here). The
// held heap grows with the collector's headroom (GOGC); GOMEMLIMIT bounds it.
//
//	go test -run '^$' -bench DeltasMillion -benchtime 1x ./zonecache/
//	GOMEMLIMIT=560MiB go test -run '^$' -bench DeltasMillion -benchtime 1x ./zonecache/
func BenchmarkDeltasMillion(b *testing.B) {
	data, _ := mixedSnapshot(b, 1000000)
	for _, c := range []struct {
		name     string
		distinct bool
	}{{"same-record", false}, {"distinct-records", true}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				z, err := BuildBytes(data)
				if err != nil {
					b.Fatal(err)
				}
				live0 := heapInUse()
				debug.FreeOSMemory()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				spans0 := ms.HeapInuse
				buf := make([]byte, 512)
				b.StartTimer()
				for i := range 10000 {
					k := 7
					if c.distinct {
						k = i * 97
					}
					rr := &dns.A{Hdr: dns.RR_Header{Name: fmt.Sprintf("delta%07d.bench.test.", k), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
						A: []byte{10, 9, byte(i >> 8), byte(i)}}
					m, _ := dns.PackRR(rr, buf, 0, nil, false)
					d := &snapshot.ZoneDelta{Name: "bench.test.", FromVersion: z.Version, ToVersion: z.Version + 1,
						Upserts: []*snapshot.Record{{Id: fmt.Sprintf("%032x", 1<<40+k), Rr: append([]byte(nil), buf[:m]...)}}}
					if z, err = ApplyDelta(z, d); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.ReadMemStats(&ms)
				spans1 := ms.HeapInuse
				live1 := heapInUse()
				b.ReportMetric(100*(float64(live1)/float64(live0)-1), "live-growth-%")
				b.ReportMetric(100*(float64(spans1)/float64(spans0)-1), "held-growth-%")
				b.ReportMetric(float64(live0)/(1<<20), "live-MiB")
				b.ReportMetric(float64(spans1)/(1<<20), "held-after-MiB")
				runtime.KeepAlive(z)
			}
		})
	}
}

// BenchmarkStreamMillion is BenchmarkBuildMillion through a Stream, the
// encoding written in the object store's 128 KiB chunks (what an edge's
// cold start does while the object arrives).
//
//	go test -run '^$' -bench 'BuildMillion|StreamMillion' -benchtime 3x ./zonecache/
func BenchmarkStreamMillion(b *testing.B) {
	data, n := mixedSnapshot(b, 1000000)
	b.ReportMetric(float64(len(data))/float64(n), "encoded-B/record")
	b.ResetTimer()
	var z *Zone
	for range b.N {
		z = nil
		gc0, user0 := cpuSeconds()
		s := NewStream(len(data))
		for rest := data; len(rest) > 0; {
			n := min(128<<10, len(rest))
			s.Write(rest[:n])
			rest = rest[n:]
		}
		var err error
		if z, err = s.Finish(); err != nil {
			b.Fatal(err)
		}
		gc1, user1 := cpuSeconds()
		b.ReportMetric(user1-user0, "user-cpu-s")
		b.ReportMetric(gc1-gc0, "gc-cpu-s")
	}
	runtime.KeepAlive(z)
}
