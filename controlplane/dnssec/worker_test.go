package dnssec

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

var etcdCli *clientv3.Client

func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

func newStoreWithZone(t *testing.T, name string) (*store.Store, string) {
	t.Helper()
	st := store.NewWithConfig(etcdCli, store.Config{Prefix: etcdtest.Prefix(t)}, zaptest.NewLogger(t))
	z, err := st.CreateZone(context.Background(), "acct", name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "zone1", AccountId: "acct", Name: name, Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, CreatedOn: timestamppb.Now()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, z.GetId()
}

// The DS checks move PENDING to ACTIVE once the parent serves our DS, and
// PENDING_DISABLED to DISABLED once it is gone; a DS of another key does
// not count; checks wait for their interval.
func TestWorkerFollowsTheDSAtTheParent(t *testing.T) {
	ctx := context.Background()
	st, id := newStoreWithZone(t, "example.com.")
	par := startParent(t)
	ring := testRing(t)
	p := Policy{CheckInterval: time.Minute}.WithDefaults()
	w := NewWorker(st, ring, WorkerConfig{Policy: p, Resolver: par.addr, Timeout: time.Second}, zaptest.NewLogger(t))
	cur, err := st.UpdateDnssec(ctx, id, "test", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		return Enable(cur, ring, id, z.GetName(), p, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	status := func() dnsv1.DnssecStatus {
		t.Helper()
		s, err := st.GetDnssec(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return s.GetStatus()
	}
	step := func(at time.Time) {
		t.Helper()
		if err := w.Step(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	// A DS of some other key: still pending.
	other, _ := Enable(nil, ring, id, "example.com.", p, t0)
	par.set("example.com.", DS("example.com.", other))
	step(t0)
	if s := status(); s != dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING {
		t.Fatalf("with a foreign DS: %s", StatusName(s))
	}
	checks, _ := st.GetDnssecChecks(ctx, id)
	if checks.GetChecks() != 1 || checks.GetLastResult() == "" {
		t.Fatalf("checks after one step: %v", checks)
	}
	// Our DS appears, but the next check is not due yet.
	par.set("example.com.", DS("example.com.", other), DS("example.com.", cur))
	step(t0.Add(30 * time.Second))
	if s := status(); s != dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING {
		t.Fatalf("before the interval: %s", StatusName(s))
	}
	step(t0.Add(time.Minute))
	if s := status(); s != dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE {
		t.Fatalf("with our DS: %s", StatusName(s))
	}
	if _, err := st.UpdateDnssec(ctx, id, "test", func(_ *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		return Disable(cur, t0.Add(2*time.Minute))
	}); err != nil {
		t.Fatal(err)
	}
	step(t0.Add(3 * time.Minute))
	if s := status(); s != dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED {
		t.Fatalf("disabled with the DS still there: %s", StatusName(s))
	}
	par.set("example.com.")
	step(t0.Add(5 * time.Minute))
	if s := status(); s != dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED {
		t.Fatalf("DS gone: %s", StatusName(s))
	}
}

// Without a resolver (immediate mode) the statuses that wait for the
// parent move at the first step.
func TestWorkerWithoutResolverMovesAtOnce(t *testing.T) {
	ctx := context.Background()
	st, id := newStoreWithZone(t, "example.org.")
	ring := testRing(t)
	w := NewWorker(st, ring, WorkerConfig{}, zaptest.NewLogger(t))
	if _, err := st.UpdateDnssec(ctx, id, "test", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		return Enable(cur, ring, id, z.GetName(), Policy{}.WithDefaults(), t0)
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Step(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.GetDnssec(ctx, id); s.GetStatus() != dnsv1.DnssecStatus_DNSSEC_STATUS_ACTIVE {
		t.Fatalf("status %s", StatusName(s.GetStatus()))
	}
}

// The scheduled rollover runs from Step and lands in the store.
func TestWorkerStartsScheduledRollovers(t *testing.T) {
	ctx := context.Background()
	st, id := newStoreWithZone(t, "example.net.")
	ring := testRing(t)
	p := Policy{ZSKLifetime: time.Hour}.WithDefaults()
	w := NewWorker(st, ring, WorkerConfig{Policy: p}, zaptest.NewLogger(t))
	if _, err := st.UpdateDnssec(ctx, id, "test", func(z *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		return Enable(cur, ring, id, z.GetName(), p, t0)
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Step(ctx, t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s, _ := st.GetDnssec(ctx, id); len(s.GetKeys()) != 2 {
		t.Fatalf("%d keys before the rollover is due", len(s.GetKeys()))
	}
	if err := w.Step(ctx, t0.Add(61*time.Minute)); err != nil {
		t.Fatal(err)
	}
	s, _ := st.GetDnssec(ctx, id)
	if len(s.GetKeys()) != 3 || KeyState(s.GetKeys()[2], t0.Add(61*time.Minute)) != "published" {
		t.Fatalf("keys after the rollover started: %v", s.GetKeys())
	}
}
