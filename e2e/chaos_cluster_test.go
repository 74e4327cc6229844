//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/zonegrid/zonegrid/controlplane/authn"
	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// chaosCluster is the layout of deploy/cluster as real processes on
// 127.0.0.1: 3 etcd members (one cluster), 3 nats-server in one JetStream
// cluster (the control planes create R3 buckets), 2 control planes (one
// builder leads, elected through etcd) and 3 edges. As deploy/cluster/run.sh
// runs it: plain loopback without etcd or NATS auth, a plaintext gRPC
// listener on loopback with an operator token, signed snapshots.
type chaosCluster struct {
	tb    testing.TB
	dir   string
	bin   string
	token string

	etcd  []*member
	nats  []*member
	cps   []*member
	edges []*member

	etcdClient *clientv3.Client
	conns      []*grpc.ClientConn
}

// member is one process of the layout with the addresses it serves.
type member struct {
	*proc
	addr    string // etcd client, NATS client, gRPC or DNS address
	http    string // NATS monitoring, control plane or edge metrics address
	dataDir string // etcd data dir, NATS JetStream store dir
}

func startChaosCluster(tb testing.TB, ctx context.Context) *chaosCluster {
	tb.Helper()
	root := tb.TempDir()
	if d := os.Getenv("CHAOS_DIR"); d != "" {
		// Kept after the test: logs and data to read.
		root = filepath.Join(d, time.Now().Format("20060102-150405"))
		if err := os.MkdirAll(root, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	c := &chaosCluster{tb: tb, dir: root, bin: filepath.Join(root, "bin")}
	t0 := time.Now()
	if err := buildChaosBinaries(ctx, c.bin); err != nil {
		tb.Fatalf("build the servers: %v", err)
	}
	tb.Logf("built controlplane, edge, etcd, nats-server in %v", time.Since(t0).Round(time.Millisecond))

	ports := freePorts(tb, 3*2+3*3+2*2+3*2)
	next := func() int { p := ports[0]; ports = ports[1:]; return p }
	loop := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }

	tb.Cleanup(func() {
		if tb.Failed() {
			for _, m := range c.all() {
				tb.Logf("--- last lines of %s (%s)\n%s", m.name, m.logPath, m.tail(15))
			}
		}
		var wg sync.WaitGroup
		for _, m := range c.all() {
			wg.Add(1)
			go func() { defer wg.Done(); m.cleanup() }()
		}
		wg.Wait()
	})

	// etcd: one cluster of three members.
	var peers, clients []string
	for i := 0; i < 3; i++ {
		client, peer := loop(next()), loop(next())
		peers = append(peers, fmt.Sprintf("e%d=http://%s", i, peer))
		clients = append(clients, client)
		dataDir := filepath.Join(root, fmt.Sprintf("etcd%d", i))
		c.etcd = append(c.etcd, &member{addr: client, dataDir: dataDir, proc: &proc{
			name: fmt.Sprintf("etcd%d", i), bin: filepath.Join(c.bin, "etcd"),
			logPath: filepath.Join(root, fmt.Sprintf("etcd%d.log", i)),
			args: []string{
				"--name", fmt.Sprintf("e%d", i), "--data-dir", dataDir,
				"--listen-client-urls", "http://" + client, "--advertise-client-urls", "http://" + client,
				"--listen-peer-urls", "http://" + peer, "--initial-advertise-peer-urls", "http://" + peer,
				"--initial-cluster-token", "zonegrid-chaos", "--initial-cluster-state", "new",
				"--max-txn-ops", "65536", "--max-request-bytes", "33554432", "--warning-apply-duration", "5s", "--warning-unary-request-duration", "5s", "--log-level", "warn",
			},
		}})
	}
	for _, m := range c.etcd {
		m.args = append(m.args, "--initial-cluster", strings.Join(peers, ","))
	}

	// NATS: three servers in one JetStream cluster.
	var routes, natsURLs []string
	natsPorts := make([][3]int, 3)
	for i := range natsPorts {
		natsPorts[i] = [3]int{next(), next(), next()} // client, cluster, monitoring
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", natsPorts[i][1]))
		natsURLs = append(natsURLs, fmt.Sprintf("nats://127.0.0.1:%d", natsPorts[i][0]))
	}
	for i, p := range natsPorts {
		store := filepath.Join(root, fmt.Sprintf("nats%d", i))
		conf := filepath.Join(root, fmt.Sprintf("nats%d.conf", i))
		body := natsClusterConfig(fmt.Sprintf("n%d", i), p[0], p[1], p[2], store, routes)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
		c.nats = append(c.nats, &member{addr: loop(p[0]), http: loop(p[2]), dataDir: store, proc: &proc{
			name: fmt.Sprintf("nats%d", i), bin: filepath.Join(c.bin, "nats-server"),
			logPath: filepath.Join(root, fmt.Sprintf("nats%d.log", i)),
			args:    []string{"-c", conf},
		}})
	}

	for _, m := range append(append([]*member{}, c.etcd...), c.nats...) {
		if err := m.start(); err != nil {
			tb.Fatal(err)
		}
	}
	var err error
	c.etcdClient, err = clientv3.New(clientv3.Config{
		Endpoints: clients, DialTimeout: 2 * time.Second, Logger: zap.NewNop(),
	})
	if err != nil {
		tb.Fatalf("etcd client: %v", err)
	}
	tb.Cleanup(func() { _ = c.etcdClient.Close() })
	for i := range c.etcd {
		c.waitHealthy(c.etcd[i], 60*time.Second)
	}
	for i := range c.nats {
		c.waitHealthy(c.nats[i], 60*time.Second)
	}

	// Credentials: the operator's token, the snapshot signing key.
	tok, err := authn.NewOperatorSecret()
	if err != nil {
		tb.Fatal(err)
	}
	c.token = tok
	tokenFile := filepath.Join(root, "operator.token")
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	signKey, trustKey := filepath.Join(root, "snapshot-signing.pem"), filepath.Join(root, "snapshot-signing.pub.pem")
	if _, err := snapshot.EnsureSigningKey(signKey, trustKey); err != nil {
		tb.Fatal(err)
	}

	for i := 0; i < 2; i++ {
		grpcAddr, metrics := loop(next()), loop(next())
		c.cps = append(c.cps, &member{addr: grpcAddr, http: metrics, proc: &proc{
			name: fmt.Sprintf("cp%d", i), bin: filepath.Join(c.bin, "controlplane"),
			logPath: filepath.Join(root, fmt.Sprintf("cp%d.log", i)),
			args: []string{
				"--grpc-addr", grpcAddr, "--metrics-addr", metrics,
				"--etcd-endpoints", strings.Join(clients, ","),
				"--nats-url", strings.Join(natsURLs, ","), "--kv-replicas", "3",
				"--operator-token-file", tokenFile, "--snapshot-signing-key", signKey,
				"--extra-public-suffixes", "test,example",
			},
		}})
	}
	for _, m := range c.cps {
		if err := m.start(); err != nil {
			tb.Fatal(err)
		}
	}
	for _, m := range c.cps {
		c.waitHealthy(m, 60*time.Second)
		conn, err := clientconfig.Config{Endpoint: m.addr, Token: tok}.Dial()
		if err != nil {
			tb.Fatalf("dial %s: %v", m.name, err)
		}
		tb.Cleanup(func() { _ = conn.Close() })
		c.conns = append(c.conns, conn)
	}

	for i := 0; i < 3; i++ {
		dnsAddr, metrics := loop(next()), loop(next())
		c.edges = append(c.edges, &member{addr: dnsAddr, http: metrics, proc: &proc{
			name: fmt.Sprintf("edge%d", i), bin: filepath.Join(c.bin, "edge"),
			logPath: filepath.Join(root, fmt.Sprintf("edge%d.log", i)),
			args: []string{
				"--listen", dnsAddr, "--metrics-addr", metrics,
				"--nats-url", strings.Join(natsURLs, ","), "--snapshot-trust-keys", trustKey,
				// One client address sends the whole query load.
				"--rrl-rate", "0",
			},
		}})
	}
	for _, m := range c.edges {
		if err := m.start(); err != nil {
			tb.Fatal(err)
		}
	}
	for _, m := range c.edges {
		c.waitHealthy(m, 60*time.Second)
	}
	tb.Logf("cluster up in %v (logs and data in %s)", time.Since(t0).Round(time.Millisecond), root)
	return c
}

// natsClusterConfig is one server's nats-server.conf (deploy/cluster/run.sh
// writes the same).
func natsClusterConfig(name string, client, cluster, monitor int, store string, routes []string) string {
	return fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream {
  store_dir: %q
}
cluster {
  name: zonegrid-chaos
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, name, client, monitor, store, cluster, strings.Join(routes, ", "))
}

func (c *chaosCluster) all() []*member {
	var out []*member
	out = append(out, c.etcd...)
	out = append(out, c.nats...)
	out = append(out, c.cps...)
	return append(out, c.edges...)
}

// healthy reports whether m serves: an etcd member answers a status
// request, a NATS server's /healthz (JetStream current) says ok, a control
// plane's or an edge's /ready answers 200.
func (c *chaosCluster) healthy(m *member) bool {
	switch {
	case c.isEtcd(m):
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.etcdClient.Status(ctx, m.addr)
		return err == nil
	case c.isNATS(m):
		return httpOK("http://" + m.http + "/healthz")
	default:
		return httpOK("http://" + m.http + "/ready")
	}
}

func (c *chaosCluster) isEtcd(m *member) bool {
	for _, e := range c.etcd {
		if e == m {
			return true
		}
	}
	return false
}

func (c *chaosCluster) isNATS(m *member) bool {
	for _, e := range c.nats {
		if e == m {
			return true
		}
	}
	return false
}

func (c *chaosCluster) waitHealthy(m *member, d time.Duration) {
	c.tb.Helper()
	if !pollUntil(d, func() bool { return c.healthy(m) }) {
		c.tb.Fatalf("%s not healthy within %v; log:\n%s", m.name, d, m.tail(30))
	}
}

// allHealthy waits until every member serves, and returns how long that
// took.
func (c *chaosCluster) allHealthy(d time.Duration) (time.Duration, error) {
	start := time.Now()
	for _, m := range c.all() {
		left := d - time.Since(start)
		if !pollUntil(left, func() bool { return c.healthy(m) }) {
			return time.Since(start), fmt.Errorf("%s not healthy within %v", m.name, d)
		}
	}
	return time.Since(start), nil
}

// etcdLeader returns the member that leads the etcd cluster.
func (c *chaosCluster) etcdLeader() (*member, error) {
	for _, m := range c.etcd {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.etcdClient.Status(ctx, m.addr)
		cancel()
		if err == nil && st.Leader != 0 && st.Leader == st.Header.GetMemberId() {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no etcd member says it leads")
}

// builderLeader returns the control plane whose builder leads
// (zonegrid_builder_leader 1 on its /metrics).
func (c *chaosCluster) builderLeader() (*member, error) {
	for _, m := range c.cps {
		body, err := httpBody("http://" + m.http + "/metrics")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(body, "\n") {
			if strings.TrimSpace(line) == "zonegrid_builder_leader 1" {
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("no control plane reports zonegrid_builder_leader 1")
}

// recordClients returns a RecordService client per control plane.
func (c *chaosCluster) recordClients() []dnsv1.RecordServiceClient {
	out := make([]dnsv1.RecordServiceClient, len(c.conns))
	for i, conn := range c.conns {
		out[i] = dnsv1.NewRecordServiceClient(conn)
	}
	return out
}
