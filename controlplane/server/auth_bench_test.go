package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	"github.com/zonegrid/zonegrid/controlplane/embedded"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// BenchmarkWritesAuth measures single record creates through the whole
// API (gRPC, authorization, validation, group commit into real etcd) with
// authorization on and off, 64 callers in parallel: the per-call cost of
// authentication and authorization, as writes per second. Run:
//
//	go test -run '^$' -bench BenchmarkWritesAuth -benchtime 20000x ./controlplane/server/
func BenchmarkWritesAuth(b *testing.B) {
	for _, mode := range []struct {
		name string
		off  bool
	}{{"auth=on", false}, {"auth=off", true}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			emb, err := embedded.Start(ctx, embedded.Config{DataDir: b.TempDir()}, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			defer emb.Close()
			s, err := New(ctx, Config{GRPCAddr: "127.0.0.1:0", EtcdEndpoints: emb.EtcdEndpoints(), DisableBuilder: true,
				OperatorTokens: []string{testOperatorToken}, DisableAuth: mode.off}, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer s.Stop()
			token := ""
			op, err := clientconfig.Config{Endpoint: s.GRPCAddr(), Token: testOperatorToken}.Dial()
			if err != nil {
				b.Fatal(err)
			}
			defer op.Close()
			z, err := dnsv1.NewZoneServiceClient(op).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "bench", Name: "bench-writes.com"})
			if err != nil {
				b.Fatal(err)
			}
			if !mode.off {
				// An account token, as tenants call: the operator's
				// credential skips the token map.
				t, err := dnsv1.NewTokenServiceClient(op).CreateToken(ctx, &dnsv1.CreateTokenRequest{AccountId: "bench", Name: "bench",
					Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_DNS_WRITE}})
				if err != nil {
					b.Fatal(err)
				}
				token = t.GetSecret()
			}
			conn, err := clientconfig.Config{Endpoint: s.GRPCAddr(), Token: token}.Dial()
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			records := dnsv1.NewRecordServiceClient(conn)
			var n atomic.Int64
			b.SetParallelism(32) // × GOMAXPROCS callers
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := records.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: z.GetZone().GetId(),
						Record: &dnsv1.Record{Name: fmt.Sprintf("w%d", i), Type: "A", Content: "192.0.2.1", Ttl: 300}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
		})
	}
}
