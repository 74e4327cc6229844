package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// bigZone is the zone the listing benchmark loads once per run.
var bigZone struct {
	once sync.Once
	s    *store.Store
	zid  string
	err  error
}

// benchRecords is the size of the benchmark's zone: LISTBENCH_RECORDS,
// default 1,000,000 (docs/BENCHMARKS.md, "Record listing").
func benchRecords() int {
	if n, err := strconv.Atoi(os.Getenv("LISTBENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// benchRecord is the i-th record of the zone: names h<NNN>.g<NNN>.bench.test.
// (groups of 1,000 names, one record each), six types, four TTLs, a comment
// on every tenth record and a tag on every twentieth.
func benchRecord(zid string, i int) *dnsv1.Record {
	r := &dnsv1.Record{
		Id:     fmt.Sprintf("%016x%016x", uint64(i)*0x9e3779b97f4a7c15, i),
		ZoneId: zid,
		Name:   fmt.Sprintf("h%03d.g%03d.bench.test.", i%1000, i/1000),
		Ttl:    []uint32{1, 60, 300, 3600}[i%4],
	}
	switch i % 10 {
	case 6:
		r.Type, r.Content = "AAAA", fmt.Sprintf("2001:db8::%x", i)
	case 7:
		r.Type, r.Content = "TXT", fmt.Sprintf("\"v=%d\"", i)
	case 8:
		r.Type, r.Content, r.Priority = "MX", fmt.Sprintf("mx%d.example.net.", i%97), 10
	case 9:
		r.Type, r.Content = "CNAME", fmt.Sprintf("t%d.example.net.", i)
	default:
		r.Type, r.Content, r.Proxied = "A", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), i%3 == 0
	}
	if i%10 == 0 {
		r.Comment = fmt.Sprintf("owner team%d", i%7)
	}
	if i%20 == 0 {
		r.Tags = []string{fmt.Sprintf("team:t%d", i%5)}
	}
	return r
}

// loadBigZone writes the records with raw etcd puts in the store's key
// schema (controlplane/store/README.md): the write path and its audit
// entries are not what this measures, and loading through it takes far
// longer.
func loadBigZone(b *testing.B) (*store.Store, string) {
	b.Helper()
	bigZone.once.Do(func() {
		ctx := context.Background()
		prefix := fmt.Sprintf("/listbench/%d", time.Now().UnixNano())
		s := store.New(etcdCli, prefix, zap.NewNop())
		z, err := s.CreateZone(ctx, "acct1", "bench.test.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
			return &dnsv1.Zone{Id: "zbench0000000000000000000000001", AccountId: "acct1", Name: "bench.test.",
				Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, Plan: dnsv1.Plan_PLAN_ENTERPRISE}, nil
		})
		if err != nil {
			bigZone.err = fmt.Errorf("create zone: %w", err)
			return
		}
		n, start := benchRecords(), time.Now()
		const perTxn = 5000 // two puts each: the embedded etcd takes 10,000 ops
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(2)
		for from := 0; from < n; from += perTxn {
			g.Go(func() error {
				var ops []clientv3.Op
				for i := from; i < min(from+perTxn, n); i++ {
					r := benchRecord(z.GetId(), i)
					v, err := proto.Marshal(r)
					if err != nil {
						return fmt.Errorf("encode record %d: %w", i, err)
					}
					rname := dnsname.Reverse(r.GetName())
					ops = append(ops,
						clientv3.OpPut(prefix+"/data/records/"+z.GetId()+"/"+rname+"/"+r.GetId(), string(v)),
						clientv3.OpPut(prefix+"/data/recordids/"+z.GetId()+"/"+r.GetId(), rname))
				}
				// Puts are idempotent: a request that timed out on the busy
				// shared machine is simply sent again.
				var err error
				for range 5 {
					if _, err = etcdCli.Txn(gctx).Then(ops...).Commit(); err == nil {
						return nil
					}
				}
				return fmt.Errorf("put records %d..: %w", from, err)
			})
		}
		if bigZone.err = g.Wait(); bigZone.err == nil {
			fmt.Fprintf(os.Stderr, "loaded %d records in %s\n", n, time.Since(start).Round(time.Second))
		}
		bigZone.s, bigZone.zid = s, z.GetId()
	})
	if bigZone.err != nil {
		b.Fatal(bigZone.err)
	}
	return bigZone.s, bigZone.zid
}

// BenchmarkListRecordsMillion lists a 1,000,000-record zone (LISTBENCH_RECORDS):
//
//	go test ./controlplane/store -run '^$' -bench ListRecordsMillion -benchtime 20x -timeout 60m
//
// Not run by `make test` (no -bench there); loading takes a minute or two.
func BenchmarkListRecordsMillion(b *testing.B) {
	s, zid := loadBigZone(b)
	ctx := context.Background()
	n := benchRecords()
	mid := fmt.Sprintf("g%03d.bench.test.", n/2000)
	list := func(b *testing.B, f store.RecordFilter, size int, tok string, want int) {
		b.Helper()
		for b.Loop() {
			rs, _, err := s.ListRecords(ctx, zid, f, size, tok)
			if err != nil {
				b.Fatal(err)
			}
			if len(rs) != want {
				b.Fatalf("%d records, want %d", len(rs), want)
			}
		}
	}
	b.Run("exact name", func(b *testing.B) {
		list(b, store.RecordFilter{NameMatch: store.TextMatch{Exact: "h500." + mid}}, 100, "", 1)
	})
	b.Run("subtree of 1000, first page of 100", func(b *testing.B) {
		list(b, store.RecordFilter{NameMatch: store.TextMatch{EndsWith: mid}}, 100, "", 100)
	})
	b.Run("subtree of 1000, one page of 5000", func(b *testing.B) {
		list(b, store.RecordFilter{NameMatch: store.TextMatch{EndsWith: mid}}, 5000, "", 1000)
	})
	b.Run("first page of 100", func(b *testing.B) {
		list(b, store.RecordFilter{}, 100, "", 100)
	})
	b.Run("later page of 100", func(b *testing.B) {
		// A token half-way through the zone (paged to once): the cursor
		// starts there rather than counting the records before it.
		f, tok := store.RecordFilter{}, ""
		for seen := 0; seen < n/2; seen += 5000 {
			_, next, err := s.ListRecords(ctx, zid, f, 5000, tok)
			if err != nil || next == "" {
				b.Fatalf("paging to the middle: %v", err)
			}
			tok = next
		}
		list(b, f, 100, tok, 100)
	})
	b.Run("name contains, first page of 100 (scans ~100,000)", func(b *testing.B) {
		list(b, store.RecordFilter{NameMatch: store.TextMatch{Contains: "h500"}}, 100, "", min(100, n/1000))
	})
	b.Run("name contains, one match (scans the zone)", func(b *testing.B) {
		list(b, store.RecordFilter{NameMatch: store.TextMatch{Contains: "h999." + mid[:4]}}, 100, "", 1)
	})
	b.Run("order by ttl, first page of 100 (scans the zone)", func(b *testing.B) {
		list(b, store.RecordFilter{Order: store.OrderTTL}, 100, "", 100)
	})
	b.Run("name descending, first page of 100", func(b *testing.B) {
		list(b, store.RecordFilter{Descending: true}, 100, "", 100)
	})
	b.Run("whole zone in pages of 5000", func(b *testing.B) {
		for b.Loop() {
			total, tok := 0, ""
			for {
				rs, next, err := s.ListRecords(ctx, zid, store.RecordFilter{}, 5000, tok)
				if err != nil {
					b.Fatal(err)
				}
				total += len(rs)
				if tok = next; tok == "" {
					break
				}
			}
			if total != n {
				b.Fatalf("%d records listed, want %d", total, n)
			}
		}
	})
	// The builder's full read of a zone (publishName, the background
	// rewrite of a large zone) and a group commit's index load read the
	// whole zone through ZoneRecords' path.
	b.Run("ZoneRecords, the whole zone", func(b *testing.B) {
		for b.Loop() {
			rs, err := s.ZoneRecords(ctx, zid, 0)
			if err != nil {
				b.Fatal(err)
			}
			if len(rs) != n {
				b.Fatalf("%d records read, want %d", len(rs), n)
			}
		}
	})
}
