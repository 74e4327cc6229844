package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	"github.com/zonegrid/zonegrid/controlplane/embedded"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// TestServerServesAPIAndPublishes runs the whole control plane against real
// embedded etcd and NATS: a zone and a record created over gRPC end up as a
// snapshot in the JetStream KV bucket.
func TestServerServesAPIAndPublishes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, emb := startServer(t, Config{MetricsAddr: "127.0.0.1:0",
		NameserverPool: []string{"ns1.zg.test", "ns2.zg.test", "ns3.zg.test"}})

	conn := operatorConn(t, s)
	hr, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", hr, err)
	}
	zr, err := dnsv1.NewZoneServiceClient(conn).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	zid := zr.GetZone().GetId()
	if _, err := dnsv1.NewRecordServiceClient(conn).CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zid,
		Record: &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1", Ttl: 1}}); err != nil {
		t.Fatal(err)
	}

	nc, err := nats.Connect(emb.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if z, ok := fetch(ctx, js, "example.com."); ok && len(z.GetRecords()) == 1 {
			rr, _, err := dns.UnpackRR(z.GetRecords()[0].GetRr(), 0)
			if err != nil || rr.String() != "www.example.com.\t300\tIN\tA\t192.0.2.1" {
				t.Fatalf("published rr = %v, %v", rr, err)
			}
			if z.GetHeader().GetZoneId() != zid || z.GetHeader().GetStatus() != snapshot.ZoneStatus_ZONE_STATUS_ACTIVE {
				t.Fatalf("header = %v", z.GetHeader())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("snapshot with the record never appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fetch(ctx context.Context, js jetstream.JetStream, name string) (*snapshot.Zone, bool) {
	kv, err := js.KeyValue(ctx, snapshot.ZonesBucket)
	if err != nil {
		return nil, false
	}
	e, err := kv.Get(ctx, snapshot.ZoneKey(name))
	if err != nil {
		return nil, false
	}
	z, err := snapshot.UnmarshalZone(e.Value())
	return z, err == nil
}

func TestNewRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no etcd", Config{NATSURL: "nats://127.0.0.1:1"}},
		{"no nats", Config{EtcdEndpoints: []string{"127.0.0.1:1"}}},
		{"pool too small", Config{EtcdEndpoints: []string{"127.0.0.1:1"}, NATSURL: "nats://127.0.0.1:1", NameserverPool: []string{"ns1.x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := New(ctx, tt.cfg, zaptest.NewLogger(t)); err == nil {
				s.Stop()
				t.Fatal("New succeeded")
			}
		})
	}
}

// Config.DeltaThreshold reaches the builder: with a threshold of one
// record, the second record of a zone travels as a ZoneDelta on the delta
// stream instead of a new full snapshot.
func TestDeltaThresholdFromConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, emb := startServer(t, Config{DeltaThreshold: 1, MaxGroupWrites: 1,
		ExtraPublicSuffixes: []string{"test"}}) // delta.test
	conn := operatorConn(t, s)
	zr, err := dnsv1.NewZoneServiceClient(conn).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acct1", Name: "delta.test"})
	if err != nil {
		t.Fatal(err)
	}
	records := dnsv1.NewRecordServiceClient(conn)
	create := func(name string) {
		if _, err := records.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zr.GetZone().GetId(),
			Record: &dnsv1.Record{Name: name, Type: "A", Content: "192.0.2.1"}}); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := nats.Connect(emb.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	create("one")
	waitUntil(t, "full snapshot with one record", func() bool {
		z, ok := fetch(ctx, js, "delta.test.")
		return ok && len(z.GetRecords()) == 1
	})
	create("two")
	waitUntil(t, "a delta on the stream", func() bool {
		st, err := js.Stream(ctx, snapshot.DeltaStream)
		if err != nil {
			return false
		}
		m, err := st.GetLastMsgForSubject(ctx, snapshot.DeltaSubject("delta.test."))
		if err != nil {
			return false
		}
		d, err := snapshot.UnmarshalDelta(m.Data)
		return err == nil && len(d.GetUpserts()) == 1
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// testOperatorToken is the bootstrap credential of the test servers.
const testOperatorToken = "zgt_operator_test-only-secret"

// operatorConn dials s as the operator.
func operatorConn(t *testing.T, s *Server) *grpc.ClientConn {
	t.Helper()
	conn, err := clientconfig.Config{Endpoint: s.GRPCAddr(), Token: testOperatorToken}.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// startServer runs a control plane on fresh embedded etcd and NATS (etcd
// without fsync); cfg gets the listen address, the endpoints and the test
// operator token filled in. Both stop when t ends.
func startServer(t *testing.T, cfg Config) (*Server, *embedded.Servers) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := zaptest.NewLogger(t)
	emb := startEmbedded(t)
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.EtcdEndpoints, cfg.NATSURL = emb.EtcdEndpoints(), emb.NATSURL()
	cfg.OperatorTokens = []string{testOperatorToken}
	if cfg.DnssecKEKFiles == nil {
		kek := filepath.Join(t.TempDir(), "dnssec.kek")
		if _, err := keyseal.EnsureFile(kek); err != nil {
			t.Fatal(err)
		}
		cfg.DnssecKEKFiles = []string{kek}
	}
	s, err := New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, emb
}

// startEmbedded starts real etcd and NATS for one test.
func startEmbedded(t *testing.T) *embedded.Servers {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emb, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir(), UnsafeNoFsync: true}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	return emb
}
