package records_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

// TestConcurrentCreatesToOneZoneAllSucceed: many callers creating records
// in one zone at once are grouped, not turned away with Aborted.
func TestConcurrentCreatesToOneZoneAllSucceed(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_PRO) // 400 records: above the Free quota
	const n, callers = 400, 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(),
					Record: &dnsv1.Record{Name: fmt.Sprintf("h%d", i), Type: "A", Content: "192.0.2.1"}})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("create failed: %v", err)
	}
	if got := len(e.all(t)); got != n {
		t.Fatalf("%d records stored, want %d", got, n)
	}
}

// TestTwoControlPlanesKeepCNAMEExclusive: two record services on two
// stores over one etcd (two control-plane processes) race a CNAME against
// an A at each name; exactly one of them may land per name.
func TestTwoControlPlanesKeepCNAMEExclusive(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	prefix := etcdtest.Prefix(t)
	other := records.New(store.New(etcdCli, prefix, zaptest.NewLogger(t)), records.Options{}, zaptest.NewLogger(t))
	const names = 30
	for i := range names {
		name := fmt.Sprintf("race%d", i)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for j, r := range []*dnsv1.Record{
			{Name: name, Type: "CNAME", Content: "a.example.net"},
			{Name: name, Type: "A", Content: "192.0.2.1"},
		} {
			for k := range 2 { // each record through both control planes
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(), Record: r}
					if k == 0 {
						_, errs[2*j+k] = e.client.CreateRecord(ctx(t), req)
					} else {
						_, errs[2*j+k] = other.CreateRecord(ctx(t), req)
					}
				}()
			}
		}
		wg.Wait()
		for _, err := range errs {
			if c, _ := servicetest.Violation(err); err != nil && c != codes.InvalidArgument {
				t.Fatalf("%s: unexpected error %v", name, err)
			}
		}
	}
	types := map[string][]string{}
	for _, r := range e.all(t) {
		types[r.GetName()] = append(types[r.GetName()], r.GetType())
	}
	for name, ts := range types {
		// Either one CNAME, or A records only (the identical-record rule
		// keeps the second A out too).
		if len(ts) != 1 {
			t.Errorf("%s holds %v, want exactly one record", name, ts)
		}
	}
	if len(types) != names {
		t.Fatalf("%d names hold records, want %d", len(types), names)
	}
}

// TestRulesHoldOnZonesReadOnDemand: on a zone too large to preload (here
// forced with tiny bounds) the store reads what each write validates
// against on demand; the cross-record rules must see the same records.
func TestRulesHoldOnZonesReadOnDemand(t *testing.T) {
	e := newEnvWith(t, dnsv1.Plan_PLAN_ENTERPRISE, store.Config{MaxPreloadRecords: 1, MaxIndexedRecords: 1})
	e.create(t, &dnsv1.Record{Name: "sub", Type: "NS", Content: "ns1.example.net"})
	e.create(t, &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1"})
	e.create(t, &dnsv1.Record{Name: "a.deep.tree", Type: "A", Content: "192.0.2.1"})
	tests := []struct {
		name  string
		req   *dnsv1.BatchRecordsRequest
		field string // "" = accepted
	}{
		{"address below a delegation", &dnsv1.BatchRecordsRequest{Posts: []*dnsv1.Record{{Name: "x.y.sub", Type: "A", Content: "192.0.2.2"}}}, "posts[0].name"},
		{"CNAME next to an A", &dnsv1.BatchRecordsRequest{Posts: []*dnsv1.Record{{Name: "www", Type: "CNAME", Content: "a.example.net"}}}, "posts[0].name"},
		{"identical record", &dnsv1.BatchRecordsRequest{Posts: []*dnsv1.Record{{Name: "www", Type: "A", Content: "192.0.2.1"}}}, "posts[0].content"},
		{"NS above an address record", &dnsv1.BatchRecordsRequest{Posts: []*dnsv1.Record{{Name: "tree", Type: "NS", Content: "ns1.example.net"}}}, "posts[0].name"},
		{"conflict inside the batch", &dnsv1.BatchRecordsRequest{Posts: []*dnsv1.Record{
			{Name: "new", Type: "A", Content: "192.0.2.3"}, {Name: "new", Type: "CNAME", Content: "a.example.net"}}}, "posts[1].name"},
		{"valid batch", &dnsv1.BatchRecordsRequest{Posts: []*dnsv1.Record{
			{Name: "new", Type: "A", Content: "192.0.2.3"}, {Name: "new", Type: "AAAA", Content: "2001:db8::3"}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.ZoneId = e.zone.GetId()
			_, err := e.client.BatchRecords(ctx(t), tt.req)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantInvalid(t, err, tt.field)
		})
	}
	if n := len(e.all(t)); n != 5 {
		t.Fatalf("%d records stored, want 5", n)
	}
}

// BenchmarkConcurrentCreates: single CreateRecord calls from 64 callers
// through gRPC into one zone (etcd without fsync: this measures the
// service and the committer, not the disk).
func BenchmarkConcurrentCreates(b *testing.B) {
	st := store.New(etcdCli, fmt.Sprintf("/bench/%d", zoneSeq.Add(1)), nil)
	conn := servicetest.Serve(b, func(gs *grpc.Server) {
		dnsv1.RegisterRecordServiceServer(gs, records.New(st, records.Options{}, nil))
	})
	client := dnsv1.NewRecordServiceClient(conn)
	id := fmt.Sprintf("zone%d", zoneSeq.Add(1))
	if _, err := st.CreateZone(context.Background(), "acct1", "example.com.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: "acct1", Name: "example.com.", Plan: dnsv1.Plan_PLAN_ENTERPRISE}, nil
	}); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.SetParallelism(32) // 64 callers on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := client.CreateRecord(context.Background(), &dnsv1.CreateRecordRequest{ZoneId: id,
				Record: &dnsv1.Record{Name: fmt.Sprintf("h%d", seq.Add(1)), Type: "A", Content: "192.0.2.1"}})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBatch3500: one BatchRecords of 3,500 new records (A, AAAA,
// CNAME, MX, TXT) into a zone that already holds 3,500, through gRPC (etcd
// without fsync: validation and the service, not the disk).
func BenchmarkBatch3500(b *testing.B) {
	st := store.New(etcdCli, fmt.Sprintf("/bench/%d", zoneSeq.Add(1)), nil)
	conn := servicetest.Serve(b, func(gs *grpc.Server) {
		dnsv1.RegisterRecordServiceServer(gs, records.New(st, records.Options{}, nil))
	}, grpc.MaxRecvMsgSize(16<<20))
	client := dnsv1.NewRecordServiceClient(conn)
	batch := func(zoneID string, round int) *dnsv1.BatchRecordsRequest {
		req := &dnsv1.BatchRecordsRequest{ZoneId: zoneID}
		for i := range 3500 {
			name := fmt.Sprintf("h%d-%d", round, i)
			var r *dnsv1.Record
			switch i % 5 {
			case 0:
				r = &dnsv1.Record{Name: name, Type: "A", Content: fmt.Sprintf("10.0.%d.%d", i/256, i%256)}
			case 1:
				r = &dnsv1.Record{Name: name, Type: "AAAA", Content: fmt.Sprintf("2001:db8::%x", i)}
			case 2:
				r = &dnsv1.Record{Name: name, Type: "CNAME", Content: fmt.Sprintf("h%d-0.example.com", round)}
			case 3:
				r = &dnsv1.Record{Name: name, Type: "MX", Content: "mail.example.com", Priority: 10}
			default:
				r = &dnsv1.Record{Name: name, Type: "TXT", Content: fmt.Sprintf("token-%d", i)}
			}
			req.Posts = append(req.Posts, r)
		}
		return req
	}
	for range b.N {
		b.StopTimer()
		id := fmt.Sprintf("zone%d", zoneSeq.Add(1))
		if _, err := st.CreateZone(context.Background(), "acct1", id+".example.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
			return &dnsv1.Zone{Id: id, AccountId: "acct1", Name: id + ".example.", Plan: dnsv1.Plan_PLAN_ENTERPRISE}, nil
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := client.BatchRecords(context.Background(), batch(id, 0)); err != nil {
			b.Fatal(err)
		}
		req := batch(id, 1)
		b.StartTimer()
		if _, err := client.BatchRecords(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
