package lifecycle

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// parent is a real DNS server on 127.0.0.1 standing in for the public DNS:
// it answers NS, TXT and SOA questions from what the test sets.
type parent struct {
	mu   sync.Mutex
	ns   map[string][]string
	txt  map[string][]string
	soa  map[string]bool
	asks atomic.Int64
}

func (p *parent) setNS(name string, ns ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ns[name] = ns
}

func (p *parent) setTXT(name string, v ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.txt[name] = v
}

func (p *parent) setSOA(name string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.soa[name] = on
}

func (p *parent) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	p.asks.Add(1)
	m := new(dns.Msg)
	m.SetReply(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 300, Rrtype: q.Qtype}
	switch q.Qtype {
	case dns.TypeNS:
		for _, n := range p.ns[name] {
			m.Answer = append(m.Answer, &dns.NS{Hdr: hdr, Ns: n})
		}
	case dns.TypeTXT:
		for _, v := range p.txt[name] {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr, Txt: []string{v}})
		}
	case dns.TypeSOA:
		if p.soa[name] {
			m.Answer = append(m.Answer, &dns.SOA{Hdr: hdr, Ns: "ns.other.net.", Mbox: "h.other.net.", Serial: 1, Refresh: 1, Retry: 1, Expire: 1, Minttl: 1})
		}
	}
	_ = w.WriteMsg(m)
}

func startParent(t *testing.T) (*parent, string) {
	t.Helper()
	p := &parent{ns: map[string][]string{}, txt: map[string][]string{}, soa: map[string]bool{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: p}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return p, pc.LocalAddr().String()
}

var t0 = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

type env struct {
	st     *store.Store
	clock  *fakeClock
	parent *parent
	w      *Worker
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{st: store.New(etcdCli, etcdtest.Prefix(t), zaptest.NewLogger(t)), clock: &fakeClock{now: t0}}
	var addr string
	e.parent, addr = startParent(t)
	e.w = New(e.st, Config{Checker: &DNSChecker{Resolver: addr, Timeout: 2 * time.Second}, Clock: e.clock}, zaptest.NewLogger(t))
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// zone creates a zone directly in the store, as the zone service would,
// with its status clock starting now.
func (e *env) zone(t *testing.T, id, account, name string, typ dnsv1.ZoneType, plan dnsv1.Plan, st dnsv1.ZoneStatus) *dnsv1.Zone {
	t.Helper()
	ts := timestamppb.New(e.clock.Now())
	z, err := e.st.CreateZone(ctxT(t), account, name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		z := &dnsv1.Zone{Id: id, AccountId: account, Name: name, Type: typ, Plan: plan, Status: st,
			NameServers: []string{"ada.ns.zg.test.", "bob.ns.zg.test."}, CreatedOn: ts, ModifiedOn: ts, StatusChangedOn: ts}
		if typ == dnsv1.ZoneType_ZONE_TYPE_PARTIAL {
			v, err := NewVerification(name)
			if err != nil {
				return nil, err
			}
			z.Verification = v
		}
		return z, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func (e *env) status(t *testing.T, id string) dnsv1.ZoneStatus {
	t.Helper()
	z, err := e.st.GetZone(ctxT(t), id)
	if errors.Is(err, store.ErrNotFound) {
		return dnsv1.ZoneStatus_ZONE_STATUS_PURGED
	}
	if err != nil {
		t.Fatal(err)
	}
	return z.GetStatus()
}

// stepAt moves the clock to t0+at and runs one step.
func (e *env) stepAt(t *testing.T, at time.Duration) Stats {
	t.Helper()
	e.clock.mu.Lock()
	e.clock.now = t0.Add(at)
	e.clock.mu.Unlock()
	st, err := e.w.Step(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

const day = 24 * time.Hour

func TestTimersFollowTheDocumentedStatusDiagram(t *testing.T) {
	const (
		pending      = dnsv1.ZoneStatus_ZONE_STATUS_PENDING
		active       = dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE
		moved        = dnsv1.ZoneStatus_ZONE_STATUS_MOVED
		deleted      = dnsv1.ZoneStatus_ZONE_STATUS_DELETED
		purged       = dnsv1.ZoneStatus_ZONE_STATUS_PURGED
		initializing = dnsv1.ZoneStatus_ZONE_STATUS_INITIALIZING
		free         = dnsv1.Plan_PLAN_FREE
		pro          = dnsv1.Plan_PLAN_PRO
	)
	type at struct {
		after time.Duration
		want  dnsv1.ZoneStatus
	}
	tests := []struct {
		name  string
		plan  dnsv1.Plan
		start dnsv1.ZoneStatus
		steps []at
	}{
		{"free pending: deleted after 28 days, purged 7 days later", free, pending,
			[]at{{28*day - time.Second, pending}, {28 * day, deleted}, {35*day - time.Second, deleted}, {35 * day, purged}}},
		{"paid pending stays pending", pro, pending, []at{{60 * day, pending}, {400 * day, pending}}},
		{"initializing: deleted after 28 days whatever the plan", dnsv1.Plan_PLAN_UNSPECIFIED, initializing,
			[]at{{28*day - time.Second, initializing}, {28 * day, deleted}}},
		{"free moved: deleted after 7 days", free, moved, []at{{7*day - time.Second, moved}, {7 * day, deleted}, {14 * day, purged}}},
		{"paid moved stays moved", pro, moved, []at{{30 * day, moved}}},
		{"deleted: purged after 7 days on any plan", pro, deleted, []at{{7*day - time.Second, deleted}, {7 * day, purged}}},
		{"active has no timer", free, active, []at{{365 * day, active}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.w = New(e.st, Config{Clock: e.clock}, zaptest.NewLogger(t)) // timers only
			id := "zone" + string(rune('a'+i))
			e.zone(t, id, "acct", "timers.test.", dnsv1.ZoneType_ZONE_TYPE_FULL, tt.plan, tt.start)
			for _, s := range tt.steps {
				e.stepAt(t, s.after)
				if got := e.status(t, id); got != s.want {
					t.Fatalf("after %v: status %v, want %v", s.after, got, s.want)
				}
			}
		})
	}
}

func TestPurgeRemovesRecordsAndFreesTheName(t *testing.T) {
	e := newEnv(t)
	e.w = New(e.st, Config{Clock: e.clock}, zaptest.NewLogger(t))
	ctx := ctxT(t)
	e.zone(t, "doomed", "acct", "purge.test.", dnsv1.ZoneType_ZONE_TYPE_FULL, dnsv1.Plan_PLAN_FREE, dnsv1.ZoneStatus_ZONE_STATUS_DELETED)
	if err := e.st.UpdateRecords(ctx, "doomed", func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
		return []store.RecordOp{{Put: &dnsv1.Record{Id: "r1", ZoneId: "doomed", Name: "www.purge.test.", Type: "A", Content: "192.0.2.1", Ttl: 300}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	e.stepAt(t, 7*day)
	if _, err := e.st.GetZone(ctx, "doomed"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetZone after purge: %v, want not found", err)
	}
	if recs, _, err := e.st.ListRecords(ctx, "doomed", store.RecordFilter{}, 10, ""); err == nil && len(recs) > 0 {
		t.Fatalf("records survive the purge: %v", recs)
	}
	// The name is free again: a new zone, a new id.
	e.zone(t, "reborn", "acct", "purge.test.", dnsv1.ZoneType_ZONE_TYPE_FULL, dnsv1.Plan_PLAN_FREE, dnsv1.ZoneStatus_ZONE_STATUS_PENDING)
}

func TestAPurgeDoesNotTouchAZoneRestoredMeanwhile(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	e.zone(t, "back", "acct", "back.test.", dnsv1.ZoneType_ZONE_TYPE_FULL, dnsv1.Plan_PLAN_FREE, dnsv1.ZoneStatus_ZONE_STATUS_DELETED)
	// Restored and deleted again after the timer's decision was made.
	if _, _, err := e.st.SetZoneStatus(ctx, "test", "back", nil, dnsv1.ZoneStatus_ZONE_STATUS_PENDING, t0.Add(3*day)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.SetZoneStatus(ctx, "test", "back", nil, dnsv1.ZoneStatus_ZONE_STATUS_DELETED, t0.Add(4*day)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.PurgeDeletedZone(ctx, "back", t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("purge of a zone deleted again later: %v, want conflict", err)
	}
	if got := e.status(t, "back"); got != dnsv1.ZoneStatus_ZONE_STATUS_DELETED {
		t.Fatalf("status %v, want DELETED", got)
	}
}

func TestScheduledChecksActivatePendingAndMoveActiveZones(t *testing.T) {
	e := newEnv(t)
	z := e.zone(t, "full", "acct", "checked.test.", dnsv1.ZoneType_ZONE_TYPE_FULL, dnsv1.Plan_PLAN_FREE, dnsv1.ZoneStatus_ZONE_STATUS_PENDING)
	e.parent.setNS("checked.test.", "ns1.registrar.net.", "ns2.registrar.net.")

	// First check 60 s after creation, none before.
	if st := e.stepAt(t, 59*time.Second); st.Checks != 0 {
		t.Fatalf("checked at 59 s: %+v", st)
	}
	if st := e.stepAt(t, 60*time.Second); st.Checks != 1 {
		t.Fatalf("checks at 60 s = %d, want 1", st.Checks)
	}
	c, _ := e.st.ZoneChecks(ctxT(t), "full")
	if c.GetLastResult() == "" || c.GetChecks() != 1 {
		t.Fatalf("check state after a failed check: %v", c)
	}
	// Growing intervals: the next is 2 minutes after the last, then 4.
	if at, _ := e.w.cfg.Policy.NextCheck(z, c); !at.Equal(t0.Add(3 * time.Minute)) {
		t.Fatalf("second check at %v, want t0+3m", at.Sub(t0))
	}
	if st := e.stepAt(t, 3*time.Minute-time.Second); st.Checks != 0 {
		t.Fatalf("checked before the interval: %+v", st)
	}
	e.stepAt(t, 3*time.Minute)
	c, _ = e.st.ZoneChecks(ctxT(t), "full")
	if at, _ := e.w.cfg.Policy.NextCheck(z, c); !at.Equal(t0.Add(7 * time.Minute)) {
		t.Fatalf("third check at %v, want t0+7m", at.Sub(t0))
	}

	// The owner fixes the delegation: the next check activates.
	e.parent.setNS("checked.test.", z.GetNameServers()...)
	e.stepAt(t, 7*time.Minute)
	if got := e.status(t, "full"); got != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("status after the delegation is right: %v", got)
	}

	// Active: checked hourly; the delegation leaves us; three failed checks
	// in a row (an hour, then ten minutes apart) move the zone.
	e.parent.setNS("checked.test.", "ns1.elsewhere.net.", "ns2.elsewhere.net.")
	base := 7*time.Minute + time.Hour
	for i, at := range []time.Duration{base, base + 10*time.Minute, base + 20*time.Minute} {
		if got := e.status(t, "full"); got != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
			t.Fatalf("moved after %d failures", i)
		}
		if st := e.stepAt(t, at); st.Checks != 1 {
			t.Fatalf("check %d at %v: %+v", i+1, at, st)
		}
	}
	if got := e.status(t, "full"); got != dnsv1.ZoneStatus_ZONE_STATUS_MOVED {
		t.Fatalf("status after three failed checks: %v, want MOVED", got)
	}
	// The delegation comes back: the moved zone is active again.
	e.parent.setNS("checked.test.", z.GetNameServers()...)
	e.stepAt(t, base+20*time.Minute+time.Hour)
	if got := e.status(t, "full"); got != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("status after the delegation came back: %v, want ACTIVE", got)
	}
}

func TestAnActiveZoneSurvivesOneFailedCheck(t *testing.T) {
	e := newEnv(t)
	z := e.zone(t, "flaky", "acct", "flaky.test.", dnsv1.ZoneType_ZONE_TYPE_FULL, dnsv1.Plan_PLAN_FREE, dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	e.stepAt(t, time.Hour) // no NS at all: failure 1
	e.parent.setNS("flaky.test.", append([]string{"ns.secondary.net."}, z.GetNameServers()...)...)
	e.stepAt(t, time.Hour+10*time.Minute) // ours still present (plus another): pass
	c, _ := e.st.ZoneChecks(ctxT(t), "flaky")
	if c.GetConsecutiveFailures() != 0 || e.status(t, "flaky") != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("after a pass: failures %d, status %v", c.GetConsecutiveFailures(), e.status(t, "flaky"))
	}
}

func TestPartialZonesActivateByTheVerificationRecordAndMoveWithoutSOA(t *testing.T) {
	e := newEnv(t)
	z := e.zone(t, "part", "acct", "partial.test.", dnsv1.ZoneType_ZONE_TYPE_PARTIAL, dnsv1.Plan_PLAN_BUSINESS, dnsv1.ZoneStatus_ZONE_STATUS_PENDING)
	v := z.GetVerification()
	if v.GetName() != "zonegrid-verify.partial.test." || v.GetType() != "TXT" || !strings.Contains(v.GetValue(), "-") {
		t.Fatalf("verification record %v", v)
	}
	e.parent.setTXT(v.GetName(), "something else")
	e.stepAt(t, time.Minute)
	if got := e.status(t, "part"); got != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
		t.Fatalf("activated by a wrong TXT value: %v", got)
	}
	e.parent.setTXT(v.GetName(), "something else", v.GetValue())
	e.stepAt(t, 3*time.Minute)
	if got := e.status(t, "part"); got != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("status with the TXT record in place: %v", got)
	}
	// Active partial zones need an SOA at the name.
	e.parent.setSOA("partial.test.", true)
	e.stepAt(t, 3*time.Minute+time.Hour)
	e.parent.setSOA("partial.test.", false)
	for _, at := range []time.Duration{2 * time.Hour, 2*time.Hour + 10*time.Minute, 2*time.Hour + 20*time.Minute} {
		e.stepAt(t, 3*time.Minute+at)
	}
	if got := e.status(t, "part"); got != dnsv1.ZoneStatus_ZONE_STATUS_MOVED {
		t.Fatalf("status without an SOA: %v, want MOVED", got)
	}
}

// countingChecker records which worker checked.
type countingChecker struct{ n atomic.Int64 }

func (c *countingChecker) Check(context.Context, *dnsv1.Zone, CheckOptions) Result {
	c.n.Add(1)
	return Result{Reason: "never"}
}

func TestOneControlPlaneRunsTheLifecycleAndAnotherTakesOver(t *testing.T) {
	e := newEnv(t)
	e.zone(t, "watched", "acct", "watched.test.", dnsv1.ZoneType_ZONE_TYPE_FULL, dnsv1.Plan_PLAN_PRO, dnsv1.ZoneStatus_ZONE_STATUS_PENDING)
	// Far in the future, every check is due at every step.
	clock := &fakeClock{now: t0.Add(365 * day)}
	var a, b countingChecker
	policy := Policy{MaxCheckInterval: time.Millisecond, FirstCheck: time.Millisecond}
	wa := New(e.st, Config{ID: "a", Checker: &a, Clock: clock, Interval: 20 * time.Millisecond, SessionTTL: 2, Policy: policy}, zaptest.NewLogger(t))
	wb := New(e.st, Config{ID: "b", Checker: &b, Clock: clock, Interval: 20 * time.Millisecond, SessionTTL: 2, Policy: policy}, zaptest.NewLogger(t))
	actx, stopA := context.WithCancel(context.Background())
	bctx, stopB := context.WithCancel(context.Background())
	defer stopB()
	done := make(chan struct{})
	go func() { _ = wa.Run(actx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for a.n.Load() < 3 && time.Now().Before(deadline) {
		clock.advance(time.Hour)
		time.Sleep(20 * time.Millisecond)
	}
	go func() { _ = wb.Run(bctx) }()
	for i := 0; i < 10; i++ {
		clock.advance(time.Hour)
		time.Sleep(20 * time.Millisecond)
	}
	if a.n.Load() < 3 || b.n.Load() != 0 {
		t.Fatalf("while a leads: a checked %d times, b %d; want a only", a.n.Load(), b.n.Load())
	}
	stopA() // resigns
	<-done
	for b.n.Load() == 0 && time.Now().Before(deadline.Add(10*time.Second)) {
		clock.advance(time.Hour)
		time.Sleep(20 * time.Millisecond)
	}
	if b.n.Load() == 0 {
		t.Fatal("b never took over")
	}
}

func TestMultiProviderActivatesWithOtherProvidersNameservers(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	z := e.zone(t, "multi", "acct", "multi.test.", dnsv1.ZoneType_ZONE_TYPE_FULL, dnsv1.Plan_PLAN_ENTERPRISE, dnsv1.ZoneStatus_ZONE_STATUS_PENDING)
	e.parent.setNS("multi.test.", append([]string{"ns1.external.net."}, z.GetNameServers()...)...)
	e.stepAt(t, time.Minute)
	if got := e.status(t, "multi"); got != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
		t.Fatalf("activated with an extra provider but multi-provider off: %v", got)
	}
	if _, err := e.st.UpdateZoneSettings(ctx, "multi", func(_ *dnsv1.Zone, zs *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
		zs.MultiProvider = true
		return zs, nil
	}); err != nil {
		t.Fatal(err)
	}
	e.stepAt(t, 3*time.Minute)
	if got := e.status(t, "multi"); got != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("multi-provider on: %v, want ACTIVE", got)
	}
}
