package records_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/plans"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// zoneCreated adds a zone with a creation time, for the dated free quota.
func (e *env) zoneCreated(t *testing.T, name string, plan dnsv1.Plan, created time.Time) *dnsv1.Zone {
	t.Helper()
	id := fmt.Sprintf("zone%d", zoneSeq.Add(1))
	z, err := e.st.CreateZone(ctx(t), "acct1", name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: "acct1", Name: name, Plan: plan, Type: dnsv1.ZoneType_ZONE_TYPE_FULL,
			CreatedOn: timestamppb.New(created)}, nil
	})
	if err != nil {
		t.Fatalf("create zone: %v", err)
	}
	return z
}

// fill adds n A records to a zone in batches of at most 200 posts.
func (e *env) fill(t *testing.T, zoneID string, n int) {
	t.Helper()
	for done := 0; done < n; {
		var posts []*dnsv1.Record
		for ; len(posts) < 200 && done < n; done++ {
			posts = append(posts, &dnsv1.Record{Name: fmt.Sprintf("h%d", done), Type: "A", Content: "192.0.2.1"})
		}
		if _, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: zoneID, Posts: posts}); err != nil {
			t.Fatalf("fill %s: %v", zoneID, err)
		}
	}
}

func (e *env) count(t *testing.T, zoneID string) int {
	t.Helper()
	resp, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: zoneID, PageSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetRecords())
}

// wantQuota checks err is the record quota: ResourceExhausted, the field
// named, ErrorInfo limit records_per_zone with the max, a QuotaFailure.
func wantQuota(t *testing.T, err error, field string, max int) {
	t.Helper()
	st := grpcstatus.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("error = %v, want ResourceExhausted", err)
	}
	var gotField, gotLimit, gotMax string
	quota := false
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			gotField = d.GetFieldViolations()[0].GetField()
		case *errdetails.ErrorInfo:
			gotLimit, gotMax = d.GetMetadata()["limit"], d.GetMetadata()["max"]
		case *errdetails.QuotaFailure:
			quota = len(d.GetViolations()) == 1
		}
	}
	if gotField != field || gotLimit != plans.LimitRecordsPerZone || gotMax != fmt.Sprint(max) || !quota {
		t.Fatalf("details: field %q limit %q max %q quota failure %v; want %q %q %d true (%v)", gotField, gotLimit, gotMax, quota, field, plans.LimitRecordsPerZone, max, err)
	}
}

func TestRecordQuotaPerPlanAndCreationDate(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_PRO)
	tests := []struct {
		name    string
		plan    dnsv1.Plan
		created time.Time
		max     int
	}{
		{"free zone created on the cutoff day", dnsv1.Plan_PLAN_FREE, plans.FreeQuotaCutoff, 200},
		{"free zone without a creation time", dnsv1.Plan_PLAN_FREE, time.Time{}, 200},
		{"free zone created before 2024-09-01", dnsv1.Plan_PLAN_FREE, plans.FreeQuotaCutoff.Add(-time.Second), 1000},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := e.zoneCreated(t, fmt.Sprintf("q%d.example.", i), tt.plan, tt.created)
			e.fill(t, z.GetId(), tt.max)
			_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(),
				Record: &dnsv1.Record{Name: "one-more", Type: "A", Content: "192.0.2.9"}})
			wantQuota(t, err, "record", tt.max)
			if n := e.count(t, z.GetId()); n != tt.max {
				t.Fatalf("%d records after the refused create, want %d", n, tt.max)
			}
		})
	}
}

func TestBatchBeyondQuotaWritesNothing(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	z := e.zoneCreated(t, "batch.example.", dnsv1.Plan_PLAN_FREE, time.Now())
	e.fill(t, z.GetId(), 190)
	existing := e.count(t, z.GetId())

	var posts []*dnsv1.Record
	for i := range 20 {
		posts = append(posts, &dnsv1.Record{Name: fmt.Sprintf("new%d", i), Type: "A", Content: "192.0.2.2"})
	}
	_, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: z.GetId(), Posts: posts})
	wantQuota(t, err, "posts[10]", 200) // the 201st record
	if n := e.count(t, z.GetId()); n != existing {
		t.Fatalf("%d records after the refused batch, want %d (nothing written)", n, existing)
	}

	// Deletes in the same batch make room: 190 - 10 + 20 = 200.
	resp, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: z.GetId(), PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	var deletes []string
	for _, r := range resp.GetRecords() {
		deletes = append(deletes, r.GetId())
	}
	if _, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: z.GetId(), Deletes: deletes, Posts: posts}); err != nil {
		t.Fatalf("batch within the quota thanks to its deletes: %v", err)
	}
	if n := e.count(t, z.GetId()); n != 200 {
		t.Fatalf("%d records, want 200", n)
	}
}

func TestZoneAboveQuotaCanStillUpdateAndDelete(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	z := e.zoneCreated(t, "down.example.", dnsv1.Plan_PLAN_FREE, time.Now())
	// 201 records written past the service, as a zone downgraded from Pro
	// (or whose override was lowered) may hold.
	if err := e.st.UpdateRecords(ctx(t), z.GetId(), func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
		var ops []store.RecordOp
		for i := range 201 {
			ops = append(ops, store.RecordOp{Put: &dnsv1.Record{Id: fmt.Sprintf("r%d", i), Name: fmt.Sprintf("h%d.down.example.", i),
				Type: "A", Content: "192.0.2.1", Ttl: 1}})
		}
		return ops, nil
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := e.client.ListRecords(ctx(t), &dnsv1.ListRecordsRequest{ZoneId: z.GetId(), PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	a, b := resp.GetRecords()[0], resp.GetRecords()[1]
	if _, err := e.client.UpdateRecord(ctx(t), &dnsv1.UpdateRecordRequest{ZoneId: z.GetId(), RecordId: a.GetId(),
		Record: &dnsv1.Record{Name: a.GetName(), Type: "A", Content: "192.0.2.77"}}); err != nil {
		t.Fatalf("update on a zone above its quota: %v", err)
	}
	if _, err := e.client.DeleteRecord(ctx(t), &dnsv1.DeleteRecordRequest{ZoneId: z.GetId(), RecordId: b.GetId()}); err != nil {
		t.Fatalf("delete on a zone above its quota: %v", err)
	}
	_, err = e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(),
		Record: &dnsv1.Record{Name: "again", Type: "A", Content: "192.0.2.9"}})
	wantQuota(t, err, "record", 200)
}

func TestEnterpriseQuotaOverride(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_ENTERPRISE)
	setOverride := func(zoneID string, v uint32) {
		t.Helper()
		if _, err := e.st.UpdateZoneSettings(ctx(t), zoneID, func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
			cur.MaxRecordsOverride = v
			return cur, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A Pro zone ignores an override left in its settings (downgraded).
	pro := e.zoneCreated(t, "pro.example.", dnsv1.Plan_PLAN_PRO, time.Now())
	setOverride(pro.GetId(), 3600)
	var posts []*dnsv1.Record
	for i := range 3500 {
		posts = append(posts, &dnsv1.Record{Name: fmt.Sprintf("h%d", i), Type: "A", Content: "192.0.2.1"})
	}
	for _, zoneID := range []string{e.zone.GetId(), pro.GetId()} {
		if _, err := e.client.BatchRecords(ctx(t), &dnsv1.BatchRecordsRequest{ZoneId: zoneID, Posts: posts}); err != nil {
			t.Fatalf("3,500 records: %v", err)
		}
	}
	extra := &dnsv1.Record{Name: "extra", Type: "A", Content: "192.0.2.3"}
	_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(), Record: extra})
	wantQuota(t, err, "record", 3500)
	_, err = e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: pro.GetId(), Record: extra})
	wantQuota(t, err, "record", 3500)

	setOverride(e.zone.GetId(), 3501)
	if _, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(), Record: extra}); err != nil {
		t.Fatalf("create within the override: %v", err)
	}
	_, err = e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: e.zone.GetId(),
		Record: &dnsv1.Record{Name: "extra2", Type: "A", Content: "192.0.2.3"}})
	wantQuota(t, err, "record", 3501)
}

func TestConcurrentCreatesNeverPassTheQuota(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_FREE)
	z := e.zoneCreated(t, "race.example.", dnsv1.Plan_PLAN_FREE, time.Now())
	e.fill(t, z.GetId(), 190)
	const callers = 40
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(),
				Record: &dnsv1.Record{Name: fmt.Sprintf("c%d", i), Type: "A", Content: "192.0.2.5"}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok, refused := 0, 0
	for err := range errs {
		switch grpcstatus.Code(err) {
		case codes.OK:
			ok++
		case codes.ResourceExhausted:
			refused++
		default:
			t.Errorf("create: %v", err)
		}
	}
	if ok != 10 || refused != callers-10 {
		t.Fatalf("%d created, %d refused; want 10 and %d", ok, refused, callers-10)
	}
	if n := e.count(t, z.GetId()); n != 200 {
		t.Fatalf("%d records, want exactly the quota of 200", n)
	}
}

func TestCommentsAndTagsOnlyOnFullAndPartialZones(t *testing.T) {
	e := newEnv(t, dnsv1.Plan_PLAN_ENTERPRISE)
	z, err := e.st.CreateZone(ctx(t), "acct1", "sec.example.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "sec1", AccountId: "acct1", Name: "sec.example.", Plan: dnsv1.Plan_PLAN_ENTERPRISE,
			Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in    *dnsv1.Record
		field string
	}{
		{&dnsv1.Record{Name: "a", Type: "A", Content: "192.0.2.1", Comment: "c"}, "record.comment"},
		{&dnsv1.Record{Name: "a", Type: "A", Content: "192.0.2.1", Tags: []string{"team:web"}}, "record.tags"},
	} {
		_, err := e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(), Record: tt.in})
		wantInvalid(t, err, tt.field)
	}
	// Without them the record is still not one a secondary zone takes
	// (only overrides: secondary_test.go).
	_, err = e.client.CreateRecord(ctx(t), &dnsv1.CreateRecordRequest{ZoneId: z.GetId(),
		Record: &dnsv1.Record{Name: "a", Type: "A", Content: "192.0.2.1"}})
	wantInvalid(t, err, "record.proxied")
}
