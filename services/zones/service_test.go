package zones

import (
	"context"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/lifecycle"
	"github.com/zonegrid/zonegrid/controlplane/nameservers"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

// newClient serves a zone service over real gRPC on 127.0.0.1, backed by
// real etcd under a per-test prefix.
func newClient(t *testing.T, opts Options) dnsv1.ZoneServiceClient {
	t.Helper()
	return newClientOn(t, newStore(t), opts)
}

func newStore(t *testing.T) *store.Store {
	return store.New(etcdCli, etcdtest.Prefix(t), zaptest.NewLogger(t))
}

// newClientOn is newClient over a store the test also uses directly.
func newClientOn(t *testing.T, st *store.Store, opts Options) dnsv1.ZoneServiceClient {
	t.Helper()
	if opts.ExtraSuffixes == nil {
		opts.ExtraSuffixes = []string{"example"} // a.example, x.example
	}
	svc, err := New(st, opts, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterZoneServiceServer(gs, svc)
	})
	return dnsv1.NewZoneServiceClient(conn)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCreateZoneRejectsBadInput(t *testing.T) {
	c := newClient(t, Options{})
	tests := []struct {
		name  string
		req   *dnsv1.CreateZoneRequest
		field string
	}{
		{"missing account", &dnsv1.CreateZoneRequest{Name: "example.com"}, "account_id"},
		{"account with slash", &dnsv1.CreateZoneRequest{AccountId: "a/b", Name: "example.com"}, "account_id"},
		{"account too long", &dnsv1.CreateZoneRequest{AccountId: strings.Repeat("a", 65), Name: "example.com"}, "account_id"},
		{"missing name", &dnsv1.CreateZoneRequest{AccountId: "acct1"}, "name"},
		{"single label", &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "com"}, "name"},
		{"root", &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "."}, "name"},
		{"wildcard", &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "*.example.com"}, "name"},
		{"bad character", &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "exa mple.com"}, "name"},
		{"unknown type", &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "example.com", Type: 99}, "type"},
		{"unknown plan", &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "example.com", Plan: 99}, "plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateZone(ctxT(t), tt.req)
			code, field := servicetest.Violation(err)
			if code != codes.InvalidArgument || field != tt.field {
				t.Fatalf("err = %v (field %q), want InvalidArgument on %q", err, field, tt.field)
			}
		})
	}
	resp, err := c.ListZones(ctxT(t), &dnsv1.ListZonesRequest{})
	if err != nil || len(resp.GetZones()) != 0 {
		t.Fatalf("rejected creates left zones: %v %v", resp, err)
	}
}

func TestCreateZoneImmediateActivation(t *testing.T) {
	c := newClient(t, Options{})
	ctx := ctxT(t)
	first, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "Example.COM"})
	if err != nil {
		t.Fatal(err)
	}
	z := first.GetZone()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(z.GetId()) {
		t.Fatalf("zone id %q is not 32 hex characters", z.GetId())
	}
	if z.GetName() != "example.com." || z.GetType() != dnsv1.ZoneType_ZONE_TYPE_FULL || z.GetPlan() != dnsv1.Plan_PLAN_FREE {
		t.Fatalf("zone = %v, want normalized name and FULL/FREE defaults", z)
	}
	if z.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE || z.GetActivatedOn() == nil || len(z.GetNameServers()) != 2 {
		t.Fatalf("zone = %v, want ACTIVE with two nameservers", z)
	}

	if _, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "example.com."}); grpcstatus.Code(err) != codes.AlreadyExists {
		t.Fatalf("duplicate err = %v, want AlreadyExists", err)
	}

	// Another zone of the same account keeps the account's nameservers.
	second, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(second.GetZone().GetNameServers(), z.GetNameServers()) {
		t.Fatalf("second zone NS %v, want the account's %v", second.GetZone().GetNameServers(), z.GetNameServers())
	}

	// Another account claiming the name stays pending, on other nameservers.
	rival, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct2", Name: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	rz := rival.GetZone()
	if rz.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
		t.Fatalf("rival status = %v, want PENDING", rz.GetStatus())
	}
	if slices.Equal(rz.GetNameServers(), z.GetNameServers()) {
		t.Fatalf("rival got the same nameservers %v", rz.GetNameServers())
	}
	chk, err := c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: rz.GetId()})
	if err != nil || chk.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING || chk.GetReason() == "" {
		t.Fatalf("rival check = %v, %v; want PENDING with a reason", chk, err)
	}

	// Once the owner deletes its zone, the rival activates.
	if _, err := c.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: z.GetId()}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: z.GetId()}); err != nil || got.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_DELETED {
		t.Fatalf("get deleted zone = %v, %v; want DELETED", got, err)
	}
	chk, err = c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: rz.GetId()})
	if err != nil || chk.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("rival check after delete = %v, %v; want ACTIVE", chk, err)
	}
}

func TestGetAndDeleteValidateIDs(t *testing.T) {
	c := newClient(t, Options{})
	tests := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"get empty id", func() error { _, err := c.GetZone(ctxT(t), &dnsv1.GetZoneRequest{}); return err }, codes.InvalidArgument},
		{"get bad id", func() error { _, err := c.GetZone(ctxT(t), &dnsv1.GetZoneRequest{ZoneId: "../x"}); return err }, codes.InvalidArgument},
		{"get missing", func() error { _, err := c.GetZone(ctxT(t), &dnsv1.GetZoneRequest{ZoneId: "abc"}); return err }, codes.NotFound},
		{"delete missing", func() error { _, err := c.DeleteZone(ctxT(t), &dnsv1.DeleteZoneRequest{ZoneId: "abc"}); return err }, codes.NotFound},
		{"check missing", func() error {
			_, err := c.ActivationCheck(ctxT(t), &dnsv1.ActivationCheckRequest{ZoneId: "abc"})
			return err
		}, codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := grpcstatus.Code(tt.call()); code != tt.code {
				t.Fatalf("code = %v, want %v", code, tt.code)
			}
		})
	}
}

func TestListZonesPaginates(t *testing.T) {
	c := newClient(t, Options{})
	ctx := ctxT(t)
	for _, n := range []string{"a.example", "b.example", "c.example", "d.example", "e.example"} {
		if _, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct2", Name: "a.example"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  *dnsv1.ListZonesRequest
		want int
	}{
		{"account", &dnsv1.ListZonesRequest{AccountId: "acct1", PageSize: 2}, 5},
		{"name across accounts", &dnsv1.ListZonesRequest{Name: "A.example", PageSize: 1}, 2},
		{"everything, default page", &dnsv1.ListZonesRequest{}, 6},
		{"page size above max is clamped", &dnsv1.ListZonesRequest{PageSize: 5000}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			req := tt.req
			for i := 0; ; i++ {
				if i > 10 {
					t.Fatal("pagination does not end")
				}
				resp, err := c.ListZones(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				for _, z := range resp.GetZones() {
					seen[z.GetId()] = true
				}
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			if len(seen) != tt.want {
				t.Fatalf("listed %d zones, want %d", len(seen), tt.want)
			}
		})
	}
	bad := []*dnsv1.ListZonesRequest{{PageSize: -1}, {PageToken: "nonsense"}, {AccountId: "a b"}, {Name: "bad name"}}
	for _, req := range bad {
		if _, err := c.ListZones(ctx, req); grpcstatus.Code(err) != codes.InvalidArgument {
			t.Fatalf("ListZones(%v) err = %v, want InvalidArgument", req, err)
		}
	}
}

// fakeDelegation is a tiny real DNS server on 127.0.0.1 answering NS
// queries with whatever the test sets.
type fakeDelegation struct {
	mu sync.Mutex
	ns map[string][]string
}

func (f *fakeDelegation) set(name string, ns ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ns[name] = ns
}

func (f *fakeDelegation) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.Question[0]
	for _, n := range f.ns[strings.ToLower(q.Name)] {
		m.Answer = append(m.Answer, &dns.NS{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 300}, Ns: n})
	}
	_ = w.WriteMsg(m)
}

func startFakeDelegation(t *testing.T) (*fakeDelegation, string) {
	t.Helper()
	f := &fakeDelegation{ns: map[string][]string{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: f}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return f, pc.LocalAddr().String()
}

func TestDelegationActivation(t *testing.T) {
	resolver, addr := startFakeDelegation(t)
	pool, err := nameservers.NewPool([]string{"ns1.zg.test", "ns2.zg.test", "ns3.zg.test", "ns4.zg.test"})
	if err != nil {
		t.Fatal(err)
	}
	// The on-demand check's rate limit is TestActivationCheckIsRateLimited's.
	c := newClient(t, Options{Pool: pool, ActivationMode: ModeDelegation, Resolver: addr, Policy: lifecycle.Policy{ManualCheckFree: -1}})
	ctx := ctxT(t)

	owner, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	oz := owner.GetZone()
	if oz.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_PENDING {
		t.Fatalf("status at creation = %v, want PENDING", oz.GetStatus())
	}

	steps := []struct {
		name       string
		delegateTo []string
		want       dnsv1.ZoneStatus
	}{
		{"no delegation", nil, dnsv1.ZoneStatus_ZONE_STATUS_PENDING},
		{"delegated elsewhere", []string{"ns1.other.net.", "ns2.other.net."}, dnsv1.ZoneStatus_ZONE_STATUS_PENDING},
		{"only one of the pair", oz.GetNameServers()[:1], dnsv1.ZoneStatus_ZONE_STATUS_PENDING},
		{"delegated to the pair, any case and order", []string{strings.ToUpper(oz.GetNameServers()[1]), oz.GetNameServers()[0]}, dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE},
	}
	for _, s := range steps {
		resolver.set("example.com.", s.delegateTo...)
		chk, err := c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: oz.GetId()})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if chk.GetZone().GetStatus() != s.want {
			t.Fatalf("%s: status %v (reason %q), want %v", s.name, chk.GetZone().GetStatus(), chk.GetReason(), s.want)
		}
		if s.want == dnsv1.ZoneStatus_ZONE_STATUS_PENDING && chk.GetReason() == "" {
			t.Fatalf("%s: pending without a reason", s.name)
		}
	}

	// A second account proves control of the name later: it takes over and
	// the first account's zone is moved.
	taker, err := c.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct2", Name: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	tz := taker.GetZone()
	resolver.set("example.com.", tz.GetNameServers()...)
	chk, err := c.ActivationCheck(ctx, &dnsv1.ActivationCheckRequest{ZoneId: tz.GetId()})
	if err != nil || chk.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("taker check = %v, %v; want ACTIVE", chk, err)
	}
	got, err := c.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: oz.GetId()})
	if err != nil || got.GetZone().GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_MOVED {
		t.Fatalf("previous owner = %v, %v; want MOVED", got, err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	st := store.New(etcdCli, "/unused", zap.NewNop())
	for _, o := range []Options{{ActivationMode: "sometimes"}, {ActivationMode: ModeDelegation}} {
		if _, err := New(st, o, nil); err == nil {
			t.Fatalf("New(%+v) succeeded", o)
		}
	}
}
