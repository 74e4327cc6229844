package server

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/controlplane/embedded"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// freeTCPPort returns a loopback port nothing listens on now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestEtcdOutageFailsFastReportsNotReadyAndRecovers stops a real etcd under
// a running control plane and starts it again on the same ports and data
// directory after an outage longer than gRPC's default reconnect backoff
// would forgive: writes fail with Unavailable naming etcd within the
// server-side deadline instead of hanging, health says NOT_SERVING and
// /ready 503 while etcd is away, and within 2 s of etcd answering again a
// write succeeds.
func TestEtcdOutageFailsFastReportsNotReadyAndRecovers(t *testing.T) {
	const etcdTimeout = 2 * time.Second
	outage := 20 * time.Second
	if os.Getenv("CI") == "true" {
		// Still past where gRPC's default backoff (1 s growing by 1.6 to
		// 120 s) waits several seconds between attempts.
		outage = 12 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := zaptest.NewLogger(t)
	ecfg := embedded.Config{DataDir: t.TempDir(), UnsafeNoFsync: true, Secure: true,
		EtcdClientPort: freeTCPPort(t), EtcdPeerPort: freeTCPPort(t)}
	emb, err := embedded.Start(ctx, ecfg, log.Named("embedded"))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			emb.Close()
		}
	})
	creds := emb.Credentials()
	s, err := New(ctx, Config{
		GRPCAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", DisableBuilder: true,
		EtcdEndpoints: emb.EtcdEndpoints(), EtcdUsername: creds.EtcdUsername, EtcdPassword: creds.EtcdPassword,
		OperatorTokens: []string{testOperatorToken}, ExtraPublicSuffixes: []string{"test"},
		EtcdTimeout: etcdTimeout,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)

	conn := operatorConn(t, s)
	healthOf := func() healthpb.HealthCheckResponse_ServingStatus {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		hr, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("health check: %v", err)
		}
		return hr.GetStatus()
	}
	readyCode := func() int {
		resp, err := http.Get("http://" + s.MetricsAddr() + "/ready")
		if err != nil {
			t.Fatalf("GET /ready: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	zr, err := dnsv1.NewZoneServiceClient(conn).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "outage.test"})
	if err != nil {
		t.Fatal(err)
	}
	records := dnsv1.NewRecordServiceClient(conn)
	write := func(ctx context.Context, name string) error {
		_, err := records.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zr.GetZone().GetId(),
			Record: &dnsv1.Record{Name: name, Type: "A", Content: "192.0.2.1"}})
		return err
	}
	if err := write(ctx, "before"); err != nil {
		t.Fatal(err)
	}
	if h, r := healthOf(), readyCode(); h != healthpb.HealthCheckResponse_SERVING || r != http.StatusOK {
		t.Fatalf("before the outage: health %v, /ready %d", h, r)
	}

	emb.Close()
	stopped = true
	down := time.Now()
	t.Log("etcd stopped")

	// A write with a generous client deadline fails on the server's.
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	err = write(wctx, "during")
	wcancel()
	took := time.Since(down)
	if st := grpcstatus.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "etcd") {
		t.Fatalf("write while etcd is down: %v, want Unavailable naming etcd", err)
	}
	if took > etcdTimeout+time.Second {
		t.Fatalf("write while etcd is down took %s, want at most the etcd timeout %s", took, etcdTimeout)
	}
	t.Logf("write while etcd is down: %s after %s", grpcstatus.Convert(err).Message(), took.Round(time.Millisecond))

	for healthOf() != healthpb.HealthCheckResponse_NOT_SERVING || readyCode() != http.StatusServiceUnavailable {
		if time.Since(down) > 3*time.Second {
			t.Fatalf("health %v, /ready %d %s after etcd stopped", healthOf(), readyCode(), time.Since(down))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("NOT_SERVING and /ready 503 %s after etcd stopped", time.Since(down).Round(time.Millisecond))

	time.Sleep(time.Until(down.Add(outage)))
	begin := time.Now()
	restarted, err := embedded.Start(ctx, ecfg, log.Named("embedded"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restarted.Close() })
	up := time.Now()
	t.Logf("etcd answering again after an outage of %s (its start took %s)", up.Sub(down).Round(time.Millisecond), up.Sub(begin).Round(time.Millisecond))

	// A write issued now waits for the reconnect; retried if it fails.
	for {
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		err := write(wctx, "after")
		wcancel()
		if err == nil {
			break
		}
		if time.Since(up) > 2*time.Second {
			t.Fatalf("write %s after etcd returned: %v", time.Since(up), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recovered := time.Since(up)
	if recovered > 2*time.Second {
		t.Fatalf("first write succeeded %s after etcd returned, want within 2 s", recovered)
	}
	t.Logf("write succeeded %s after etcd returned (%s after its start began)", recovered.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))

	for healthOf() != healthpb.HealthCheckResponse_SERVING || readyCode() != http.StatusOK {
		if time.Since(up) > 3*time.Second {
			t.Fatalf("health %v, /ready %d %s after etcd returned", healthOf(), readyCode(), time.Since(up))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("SERVING and /ready 200 %s after etcd returned", time.Since(up).Round(time.Millisecond))
}
