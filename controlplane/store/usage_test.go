package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestZoneUsageMeasuresAndGuardsAgainstLaterWrites(t *testing.T) {
	s := newStore(t)
	z := createZone(t, s, "acct1", "usage.example.")
	put := func(recs ...*dnsv1.Record) {
		t.Helper()
		if err := s.UpdateRecords(ctxT(t), z.GetId(), func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
			var ops []store.RecordOp
			for _, r := range recs {
				ops = append(ops, store.RecordOp{Put: r})
			}
			return ops, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	var recs []*dnsv1.Record
	for i := range 3 {
		recs = append(recs, &dnsv1.Record{Id: fmt.Sprintf("r%d", i), Name: fmt.Sprintf("h%d.usage.example.", i), Type: "A", Content: "192.0.2.1", Ttl: 45})
	}
	recs[0].Tags = []string{"team:web"}
	put(recs...)

	u, cmp, err := s.ZoneUsage(ctxT(t), z.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if u.Records != 3 || u.TaggedRecords != 1 || u.MinTTL != 45 {
		t.Fatalf("usage %+v, want 3 records, 1 tagged, min TTL 45", u)
	}
	guarded := func() bool {
		t.Helper()
		tr, err := etcdCli.Txn(ctxT(t)).If(cmp).Commit()
		if err != nil {
			t.Fatal(err)
		}
		return tr.Succeeded
	}
	if !guarded() {
		t.Fatal("compare fails with no write since the measure")
	}
	put(&dnsv1.Record{Id: "r9", Name: "late.usage.example.", Type: "A", Content: "192.0.2.9", Ttl: 1})
	if guarded() {
		t.Fatal("compare still holds after a record write")
	}
}
