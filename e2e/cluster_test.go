package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	"github.com/zonegrid/zonegrid/controlplane/authn"
	"github.com/zonegrid/zonegrid/controlplane/builder"
	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	"github.com/zonegrid/zonegrid/controlplane/embedded"
	"github.com/zonegrid/zonegrid/controlplane/lifecycle"
	"github.com/zonegrid/zonegrid/controlplane/server"
	"github.com/zonegrid/zonegrid/edge/follow"
	"github.com/zonegrid/zonegrid/edge/node"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// testTunnelDomain is the tunnel domain the test edges are configured with
// (row E3 of docs/ANSWER_RULES.md).
const testTunnelDomain = "tunnel.zonegrid.test."

// Anycast pools the test edges are configured with.
var (
	testAnycastV4 = []netip.Addr{
		netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11"),
		netip.MustParseAddr("192.0.2.12"), netip.MustParseAddr("192.0.2.13"),
	}
	testAnycastV6 = []netip.Addr{
		netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::11"),
		netip.MustParseAddr("2001:db8::12"), netip.MustParseAddr("2001:db8::13"),
	}
)

// cluster is one whole system: real etcd and NATS, a control plane, edges.
type cluster struct {
	tb      testing.TB
	log     *zap.Logger
	servers *embedded.Servers
	cp      *server.Server
	cpCfg   server.Config
	conn    *grpc.ClientConn
	edges   []*node.Node
	// trustKey is the public key of the control plane's snapshot signing
	// key: every edge verifies snapshots, as in production.
	trustKey string
	// kekFile is the key-encryption key sealing zones' DNSSEC keys, given
	// to the control plane and to every edge (live signing).
	kekFile string

	zones    dnsv1.ZoneServiceClient
	records  dnsv1.RecordServiceClient
	settings dnsv1.SettingsServiceClient

	// followTrace is every edge's follow trace (withTraces).
	followTrace follow.TraceFunc

	mu        sync.Mutex
	upstreams []string
}

type clusterOption func(*clusterOptions)

type clusterOptions struct {
	upstreams []string
	quiet     bool
	// activation mode of the control plane and, for "delegation", the
	// resolver its ActivationCheck asks.
	activation, activationResolver string
	nonProxiableFile               string
	// lifecycle policy and step interval (zero: the harness's defaults).
	lifecycle         lifecycle.Policy
	lifecycleInterval time.Duration
	// trace functions given to the control plane's builder and to every
	// edge's follower (the propagation benchmark).
	builderTrace builder.TraceFunc
	followTrace  follow.TraceFunc
}

// withLifecycle gives the control plane a lifecycle policy (e.g. timers of
// seconds instead of days) and step interval.
func withLifecycle(p lifecycle.Policy, interval time.Duration) clusterOption {
	return func(o *clusterOptions) { o.lifecycle, o.lifecycleInterval = p, interval }
}

// withActivation sets the control plane's activation mode ("immediate" or
// "delegation") and the resolver delegation checks ask.
func withActivation(mode, resolver string) clusterOption {
	return func(o *clusterOptions) { o.activation, o.activationResolver = mode, resolver }
}

// withNonProxiableFile gives the control plane a non-proxiable CNAME target
// list file.
func withNonProxiableFile(path string) clusterOption {
	return func(o *clusterOptions) { o.nonProxiableFile = path }
}

func withUpstreams(addrs ...string) clusterOption {
	return func(o *clusterOptions) { o.upstreams = addrs }
}

// withTraces has the builder report its batches to bt and every edge's
// follower the zone values it applies to ft.
func withTraces(bt builder.TraceFunc, ft follow.TraceFunc) clusterOption {
	return func(o *clusterOptions) { o.builderTrace, o.followTrace = bt, ft }
}

// quiet silences logs (benchmarks).
func quiet() clusterOption { return func(o *clusterOptions) { o.quiet = true } }

func newCluster(tb testing.TB, edges int, opts ...clusterOption) *cluster {
	tb.Helper()
	var o clusterOptions
	for _, opt := range opts {
		opt(&o)
	}
	log := zap.NewNop()
	if !o.quiet {
		log = zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Locked down as `make run` runs them: etcd with auth, NATS with one
	// nkey user per role.
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: tb.TempDir(), Secure: true}, log.Named("embedded"))
	if err != nil {
		tb.Fatalf("start embedded etcd and NATS: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })

	c := &cluster{tb: tb, log: log, servers: srv, upstreams: o.upstreams, followTrace: o.followTrace}
	keyDir := tb.TempDir()
	c.trustKey = filepath.Join(keyDir, "snapshot-signing.pub.pem")
	if _, err := snapshot.EnsureSigningKey(filepath.Join(keyDir, "snapshot-signing.pem"), c.trustKey); err != nil {
		tb.Fatalf("snapshot signing key: %v", err)
	}
	c.kekFile = filepath.Join(keyDir, "dnssec.kek")
	if _, err := keyseal.EnsureFile(c.kekFile); err != nil {
		tb.Fatalf("dnssec key-encryption key: %v", err)
	}
	c.cpCfg = server.Config{
		GRPCAddr:       "127.0.0.1:0",
		EtcdEndpoints:  srv.EtcdEndpoints(),
		NATSURL:        srv.NATSURL(),
		Prefix:         "/zonegrid",
		NameserverPool: []string{"ns1.zonegrid.test.", "ns2.zonegrid.test.", "ns3.zonegrid.test.", "ns4.zonegrid.test."},
		SOARname:       "dns.zonegrid.test.",
		ActivationMode: "immediate",
		OperatorTokens: []string{operatorToken(tb)},
		// The tests' zones live under testing TLDs (RFC 2606).
		ExtraPublicSuffixes: []string{"test", "example"},
		// The edges' pools: records may not point at them.
		AnycastIPv4: testAnycastV4, AnycastIPv6: testAnycastV6,

		NonProxiableFile: o.nonProxiableFile,

		SnapshotSigningKeyFile: filepath.Join(keyDir, "snapshot-signing.pem"),
		EtcdUsername:           srv.Credentials().EtcdUsername,
		EtcdPassword:           srv.Credentials().EtcdPassword,
		NATSNkeySeedFile:       srv.Credentials().ControlPlaneNkeySeedFile,
		DnssecKEKFiles:         []string{c.kekFile},
		BuilderTrace:           o.builderTrace,
	}
	if o.activation != "" {
		c.cpCfg.ActivationMode, c.cpCfg.ActivationResolver = o.activation, o.activationResolver
	}
	// Tests call ActivationCheck as often as they like: no rate limit
	// unless a test sets a policy (services/zones tests the limit).
	c.cpCfg.Lifecycle = lifecycle.Policy{ManualCheckFree: -1, ManualCheckPaid: -1}
	if o.lifecycle != (lifecycle.Policy{}) {
		c.cpCfg.Lifecycle = o.lifecycle
	}
	c.cpCfg.LifecycleInterval = o.lifecycleInterval
	c.startControlPlane(ctx)
	for i := 0; i < edges; i++ {
		c.addEdge(ctx)
	}
	return c
}

// operatorToken makes a fresh bootstrap credential for one cluster.
func operatorToken(tb testing.TB) string {
	tb.Helper()
	s, err := authn.NewOperatorSecret()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (c *cluster) startControlPlane(ctx context.Context) {
	c.tb.Helper()
	cp, err := server.New(ctx, c.cpCfg, c.log.Named("controlplane"))
	if err != nil {
		c.tb.Fatalf("new control plane: %v", err)
	}
	if err := cp.Start(ctx); err != nil {
		c.tb.Fatalf("start control plane: %v", err)
	}
	c.cp = cp
	c.tb.Cleanup(cp.Stop)
	conn := c.dial(c.cpCfg.OperatorTokens[0])
	c.conn = conn
	c.zones = dnsv1.NewZoneServiceClient(conn)
	c.records = dnsv1.NewRecordServiceClient(conn)
	c.settings = dnsv1.NewSettingsServiceClient(conn)
}

// dial connects to the control plane as the holder of token ("" for none).
func (c *cluster) dial(token string) *grpc.ClientConn {
	c.tb.Helper()
	conn, err := clientconfig.Config{Endpoint: c.cp.GRPCAddr(), Token: token}.Dial()
	if err != nil {
		c.tb.Fatalf("dial control plane: %v", err)
	}
	c.tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

// tenant is one account's view of the API, through its own token.
type tenant struct {
	account  string
	token    *dnsv1.Token
	conn     *grpc.ClientConn
	zones    dnsv1.ZoneServiceClient
	records  dnsv1.RecordServiceClient
	settings dnsv1.SettingsServiceClient
}

// tenant creates (as the operator) a token of account with perms, or
// every permission when none are given, and returns clients that use it.
func (c *cluster) tenant(account string, perms ...dnsv1.Permission) *tenant {
	c.tb.Helper()
	if len(perms) == 0 {
		for v := range dnsv1.Permission_name {
			if v != 0 {
				perms = append(perms, dnsv1.Permission(v))
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := dnsv1.NewTokenServiceClient(c.conn).CreateToken(ctx, &dnsv1.CreateTokenRequest{
		AccountId: account, Name: "e2e " + account, Permissions: perms,
	})
	if err != nil {
		c.tb.Fatalf("create token of account %s: %v", account, err)
	}
	conn := c.dial(resp.GetSecret())
	return &tenant{
		account: account, token: resp.GetToken(), conn: conn,
		zones:    dnsv1.NewZoneServiceClient(conn),
		records:  dnsv1.NewRecordServiceClient(conn),
		settings: dnsv1.NewSettingsServiceClient(conn),
	}
}

// restartControlPlane stops the control plane and starts a new one on the
// same etcd and NATS.
func (c *cluster) restartControlPlane() {
	c.tb.Helper()
	c.cp.Stop()
	_ = c.conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.startControlPlane(ctx)
}

func (c *cluster) addEdge(ctx context.Context) *node.Node {
	c.tb.Helper()
	n, err := node.New(node.Config{
		UDPAddr:     "127.0.0.1:0",
		TCPAddr:     "127.0.0.1:0",
		NATSURL:     c.servers.NATSURL(),
		AnycastIPv4: testAnycastV4,
		AnycastIPv6: testAnycastV6,
		Upstreams:   c.upstreams,

		TunnelDomain: testTunnelDomain,

		SnapshotTrustKeyFiles: []string{c.trustKey},
		NATSNkeySeedFile:      c.servers.Credentials().EdgeNkeySeedFile,
		DNSSECKEKFiles:        []string{c.kekFile},
		FollowTrace:           c.followTrace,
	}, c.log.Named(fmt.Sprintf("edge%d", len(c.edges))))
	if err != nil {
		c.tb.Fatalf("new edge: %v", err)
	}
	if err := n.Start(ctx); err != nil {
		c.tb.Fatalf("start edge: %v", err)
	}
	c.tb.Cleanup(func() { _ = n.Close() })
	select {
	case <-n.Ready():
	case <-ctx.Done():
		c.tb.Fatalf("edge not ready: %v", ctx.Err())
	}
	c.edges = append(c.edges, n)
	return n
}

func (c *cluster) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	c.tb.Cleanup(cancel)
	return ctx
}

// createZone creates a zone and returns it.
func (c *cluster) createZone(account, name string, plan dnsv1.Plan) *dnsv1.Zone {
	c.tb.Helper()
	resp, err := c.zones.CreateZone(c.ctx(), &dnsv1.CreateZoneRequest{AccountId: account, Name: name, Plan: plan})
	if err != nil {
		c.tb.Fatalf("create zone %s: %v", name, err)
	}
	return resp.GetZone()
}

// createRecord creates a record and fails the test on error.
func (c *cluster) createRecord(zoneID string, r *dnsv1.Record) *dnsv1.Record {
	c.tb.Helper()
	resp, err := c.records.CreateRecord(c.ctx(), &dnsv1.CreateRecordRequest{ZoneId: zoneID, Record: r})
	if err != nil {
		c.tb.Fatalf("create record %s %s %s: %v", r.GetName(), r.GetType(), r.GetContent(), err)
	}
	return resp.GetRecord()
}

// query sends one query to an edge over UDP (or TCP) with EDNS0.
func query(tb testing.TB, addr, name string, qtype uint16, tcp bool) *dns.Msg {
	tb.Helper()
	m, err := exchange(addr, name, qtype, tcp)
	if err != nil {
		tb.Fatalf("query %s %s at %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	return m
}

func exchange(addr, name string, qtype uint16, tcp bool) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(1232, false)
	cl := &dns.Client{Timeout: 2 * time.Second}
	if tcp {
		cl.Net = "tcp"
	}
	m, _, err := cl.Exchange(q, addr)
	return m, err
}

// eventually polls every edge until check passes on all of them.
func (c *cluster) eventually(what string, check func(edge string) error) {
	c.tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var failed error
		for _, e := range c.edges {
			if err := check(e.UDPAddr()); err != nil {
				failed = fmt.Errorf("edge %s: %w", e.UDPAddr(), err)
				break
			}
		}
		if failed == nil {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("%s: %v", what, failed)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answerIs is a check that the edge answers name/qtype with exactly these
// RDATA strings (in any order) and rcode.
func answerIs(name string, qtype uint16, rcode int, want ...string) func(string) error {
	return func(addr string) error {
		m, err := exchange(addr, name, qtype, false)
		if err != nil {
			return err
		}
		if m.Rcode != rcode {
			return fmt.Errorf("%s %s: rcode %s, want %s", name, dns.TypeToString[qtype], dns.RcodeToString[m.Rcode], dns.RcodeToString[rcode])
		}
		got := rdataOf(m.Answer)
		if !sameSet(got, want) {
			return fmt.Errorf("%s %s: answer %q, want %q", name, dns.TypeToString[qtype], got, want)
		}
		return nil
	}
}

// rdataOf renders each RR's RDATA (the RR string without its header).
func rdataOf(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rdata(rr))
	}
	return out
}

func rdata(rr dns.RR) string {
	s := rr.String()
	h := rr.Header().String()
	if len(s) >= len(h) {
		return s[len(h):]
	}
	return s
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[string]int, len(a))
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}
