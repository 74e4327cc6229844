package builder

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/sync/errgroup"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// TestReconcileCostAtScale measures what a reconcile costs when nothing is
// missing and when the zones bucket was deleted, for
// ZONEGRID_RECONCILE_ZONES zones (e.g. 10000); skipped without it. The
// figures are in docs/BENCHMARKS.md.
func TestReconcileCostAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZONEGRID_RECONCILE_ZONES"))
	if n <= 0 {
		t.Skip("set ZONEGRID_RECONCILE_ZONES=10000 to measure")
	}
	e := newEnv(t, 0)
	ctx := context.Background()
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			id := fmt.Sprintf("zone%d", i)
			createZone(t, e.st, id, fmt.Sprintf("acct%d", i%100), fmt.Sprintf("z%d.example.", i), dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
			putRecords(t, e.st, id,
				&dnsv1.Record{Id: "r1", Name: fmt.Sprintf("www.z%d.example.", i), Type: "A", Content: "192.0.2.1", Ttl: 60},
				&dnsv1.Record{Id: "r2", Name: fmt.Sprintf("z%d.example.", i), Type: "MX", Content: "mail.example.net.", Priority: 10, Ttl: 60})
			return nil
		})
	}
	_ = g.Wait()
	rev, err := e.st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(e.st, e.nc, Config{SOARname: "dns.test.", ReconcileInterval: -1}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ensureBuckets(ctx, true); err != nil {
		t.Fatal(err)
	}
	measure := func(what string) {
		start := time.Now()
		if err := b.reconcile(ctx, rev); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d zones: reconcile %s took %v", n, what, time.Since(start).Round(time.Millisecond))
	}
	measure("publishing every zone into new buckets")
	measure("with nothing to repair")
	measure("with nothing to repair (again)")
	if err := e.js.DeleteKeyValue(ctx, snapshot.ZonesBucket); err != nil {
		t.Fatal(err)
	}
	if err := b.ensureBuckets(ctx, false); err != nil {
		t.Fatal(err)
	}
	measure("after the zones bucket was deleted")
}
