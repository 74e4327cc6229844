package notifyin

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/embedded"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/notify"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// refreshes records Refresh calls (the transfer itself is xfrin's, tested
// there and end to end in e2e/notify_test.go).
type refreshes struct {
	mu    sync.Mutex
	calls []string
	slow  time.Duration
}

func (r *refreshes) Refresh(_ context.Context, zoneID string, _ time.Time, force bool) error {
	if !force {
		panic("a NOTIFY refresh must be forced")
	}
	time.Sleep(r.slow)
	r.mu.Lock()
	r.calls = append(r.calls, zoneID)
	r.mu.Unlock()
	return nil
}

func (r *refreshes) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

type env struct {
	st  *store.Store
	cli *clientv3.Client
	url string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir(), UnsafeNoFsync: true}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.EtcdEndpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return &env{st: store.New(cli, "/zg", zaptest.NewLogger(t)), cli: cli, url: srv.NATSURL()}
}

func (e *env) receiver(t *testing.T, id string, ref Refresher) *Receiver {
	t.Helper()
	nc, err := nats.Connect(e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r := New(Config{Conn: nc, Store: e.st, Refresher: ref, LeaderID: id}, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-r.Subscribed():
	case <-time.After(10 * time.Second):
		t.Fatal("receiver never subscribed")
	}
	return r
}

func (e *env) campaign(t *testing.T, id string) {
	t.Helper()
	sess, err := concurrency.NewSession(e.cli, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	if err := concurrency.NewElection(sess, e.st.LifecycleElectionKey()).Campaign(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func publish(t *testing.T, nc *nats.Conn, n notify.Notice) {
	t.Helper()
	b, err := notify.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(notify.Subject(n.Zone), b); err != nil {
		t.Fatal(err)
	}
}

// On real etcd and NATS, with two control planes: a notice, whichever
// control plane takes it, makes the one leading the lifecycle election
// refresh the zone once, and the request is cleared; a flood costs a few
// refreshes; notices for unknown zones and bad ones are dropped.
func TestNoticesReachTheLeadingWorkerAndFloodsAreCoalesced(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateZone(ctx, "acct", "sec.example.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "sec", AccountId: "acct", Name: "sec.example.", Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE,
			Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY, CreatedOn: timestamppb.Now()}, nil
	}); err != nil {
		t.Fatal(err)
	}
	e.campaign(t, "cp-1")
	leader, other := &refreshes{slow: 20 * time.Millisecond}, &refreshes{}
	r1 := e.receiver(t, "cp-1", leader)
	r2 := e.receiver(t, "cp-2", other)
	edge, err := nats.Connect(e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(edge.Close)
	notice := notify.Notice{ZoneID: "sec", Zone: "sec.example.", Source: "192.0.2.1", Received: time.Now().UnixNano()}

	publish(t, edge, notice)
	eventually(t, "one refresh on the leader", func() bool { return leader.count() == 1 })
	eventually(t, "request cleared", func() bool {
		reqs, err := e.st.NotifyRequests(ctx)
		return err == nil && len(reqs) == 0
	})

	// One second of flood from an edge that does not coalesce.
	start := time.Now()
	sent := 0
	for time.Since(start) < time.Second {
		notice.Received = time.Now().UnixNano()
		publish(t, edge, notice)
		sent++
		time.Sleep(500 * time.Microsecond)
	}
	time.Sleep(time.Second)
	got := leader.count() - 1
	if got < 1 || got > 16 {
		t.Fatalf("%d notices in 1 s caused %d refreshes, want a few (at most ~5 per control plane per second)", sent, got)
	}
	if other.count() != 0 {
		t.Fatalf("a control plane not leading refreshed: %v", other.calls)
	}
	t.Logf("%d notices in 1 s: %d refreshes", sent, got)

	// The last notice of the flood is never lost: a request is left or
	// was handled after it.
	eventually(t, "flood's requests handled", func() bool {
		reqs, err := e.st.NotifyRequests(ctx)
		return err == nil && len(reqs) == 0
	})

	before := leader.count()
	publish(t, edge, notify.Notice{ZoneID: "gone", Zone: "gone.example.", Source: "192.0.2.1"})
	if err := edge.Publish(notify.Subject("sec.example."), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	publish(t, edge, notify.Notice{ZoneID: "sec", Zone: "other.example.", Source: "192.0.2.1"}) // wrong subject below
	b, _ := notify.Marshal(notify.Notice{ZoneID: "sec", Zone: "other.example.", Source: "192.0.2.1"})
	if err := edge.Publish(notify.Subject("sec.example."), b); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unknown zone and bad notices counted", func() bool {
		unknown := testutil.ToFloat64(r1.notices.WithLabelValues("unknown_zone")) + testutil.ToFloat64(r2.notices.WithLabelValues("unknown_zone"))
		bad := testutil.ToFloat64(r1.notices.WithLabelValues("bad")) + testutil.ToFloat64(r2.notices.WithLabelValues("bad"))
		return unknown == 1 && bad == 2
	})
	time.Sleep(300 * time.Millisecond)
	// "other.example." on its own subject named zone id "sec": recorded
	// (the zone id rules), one more refresh at most.
	if n := leader.count() - before; n > 1 {
		t.Fatalf("%d refreshes for unknown or bad notices", n)
	}
}

// With no leader nothing is refreshed at once; the request stays for the
// lifecycle step (xfrin.Worker.Step takes it).
func TestRequestsWaitWhileNoControlPlaneLeads(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateZone(ctx, "acct", "sec.example.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "sec", AccountId: "acct", Name: "sec.example.", Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY, CreatedOn: timestamppb.Now()}, nil
	}); err != nil {
		t.Fatal(err)
	}
	ref := &refreshes{}
	e.receiver(t, "cp-1", ref)
	edge, err := nats.Connect(e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(edge.Close)
	publish(t, edge, notify.Notice{ZoneID: "sec", Zone: "sec.example.", Source: "192.0.2.1"})
	eventually(t, "request recorded", func() bool {
		reqs, err := e.st.NotifyRequests(ctx)
		return err == nil && len(reqs) == 1
	})
	time.Sleep(200 * time.Millisecond)
	if ref.count() != 0 {
		t.Fatal("refreshed without leading")
	}
}

// slowFor blocks the refresh of one zone until released.
type slowFor struct {
	refreshes
	zone    string
	release chan struct{}
}

func (s *slowFor) Refresh(ctx context.Context, zoneID string, now time.Time, force bool) error {
	if zoneID == s.zone {
		select {
		case <-s.release:
		case <-ctx.Done():
		}
	}
	return s.refreshes.Refresh(ctx, zoneID, now, force)
}

// A zone whose primary is slow (a transfer may take minutes) does not hold
// up the refresh of another zone; a notice for the slow zone during its
// refresh is taken once the refresh ends.
func TestASlowRefreshDoesNotHoldOtherZones(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, z := range []string{"slow", "fast"} {
		if _, err := e.st.CreateZone(ctx, "acct", z+".example.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
			return &dnsv1.Zone{Id: z, AccountId: "acct", Name: z + ".example.", Type: dnsv1.ZoneType_ZONE_TYPE_SECONDARY, CreatedOn: timestamppb.Now()}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	e.campaign(t, "cp-1")
	ref := &slowFor{zone: "slow", release: make(chan struct{})}
	e.receiver(t, "cp-1", ref)
	edge, err := nats.Connect(e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(edge.Close)
	publish(t, edge, notify.Notice{ZoneID: "slow", Zone: "slow.example.", Source: "192.0.2.1"})
	time.Sleep(300 * time.Millisecond)
	publish(t, edge, notify.Notice{ZoneID: "fast", Zone: "fast.example.", Source: "192.0.2.1"})
	eventually(t, "the other zone refreshed while the slow one hangs", func() bool { return ref.count() == 1 })
	// Another notice for the slow zone while it is still refreshing.
	publish(t, edge, notify.Notice{ZoneID: "slow", Zone: "slow.example.", Source: "192.0.2.1"})
	time.Sleep(300 * time.Millisecond)
	close(ref.release)
	eventually(t, "the slow zone refreshed twice (once per request)", func() bool {
		ref.mu.Lock()
		defer ref.mu.Unlock()
		n := 0
		for _, c := range ref.calls {
			if c == "slow" {
				n++
			}
		}
		return n == 2
	})
	eventually(t, "requests cleared", func() bool {
		reqs, err := e.st.NotifyRequests(ctx)
		return err == nil && len(reqs) == 0
	})
}
