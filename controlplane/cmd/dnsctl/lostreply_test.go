package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/records"
	"github.com/zonegrid/zonegrid/services/servicetest"
	"github.com/zonegrid/zonegrid/services/zones"
)

// loseFirstReply runs every write, then, the first time each method is
// called, throws its reply away and answers Unavailable: the commit
// happened, the client never heard of it (a connection cut after the etcd
// transaction, a proxy timing out).
func loseFirstReply() (grpc.UnaryServerInterceptor, func() map[string]int) {
	var mu sync.Mutex
	lost := map[string]int{}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			resp, err := handler(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			if err == nil && !strings.Contains(info.FullMethod, "/Get") && !strings.Contains(info.FullMethod, "/List") && lost[info.FullMethod] == 0 {
				lost[info.FullMethod]++
				return nil, grpcstatus.Error(codes.Unavailable, "connection reset after the commit")
			}
			return resp, err
		}, func() map[string]int {
			mu.Lock()
			defer mu.Unlock()
			out := map[string]int{}
			for k, v := range lost {
				out[k] = v
			}
			return out
		}
}

func TestAWriteWhoseReplyIsLostIsRetriedWithoutDuplicating(t *testing.T) {
	first, maxWait := retryFirst, retryMax
	retryFirst, retryMax = time.Millisecond, 5*time.Millisecond
	t.Cleanup(func() { retryFirst, retryMax = first, maxWait })
	log := zaptest.NewLogger(t)
	st := store.New(etcdCli, etcdtest.Prefix(t), log)
	zs, err := zones.New(st, zones.Options{ExtraSuffixes: []string{"example"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	lose, lostCalls := loseFirstReply()
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterRecordServiceServer(gs, records.New(st, records.Options{}, log))
		dnsv1.RegisterZoneServiceServer(gs, zs)
	}, grpc.ChainUnaryInterceptor(lose))
	ep := conn.Target()

	code, out, errOut := dnsctl(t, ep, "-o", "json", "zone", "create", "lost.example", "--account", "acct1")
	if code != 0 {
		t.Fatalf("zone create after a lost reply: exit %d: %s", code, errOut)
	}
	var z struct{ ID string }
	if err := json.Unmarshal([]byte(out), &z); err != nil || z.ID == "" {
		t.Fatalf("zone create output %q: %v", out, err)
	}
	if code, _, errOut := dnsctl(t, ep, "record", "create", z.ID, "--name", "www", "--type", "A", "--content", "192.0.2.1"); code != 0 {
		t.Fatalf("record create after a lost reply: exit %d: %s", code, errOut)
	}
	if code, _, errOut := dnsctl(t, ep, "record", "create", z.ID, "--name", "www", "--type", "A", "--content", "192.0.2.1"); code == 0 {
		t.Fatalf("a second, new create of the same record succeeded: the first must exist once (%s)", errOut)
	}
	zones, _, err := st.ListZones(context.Background(), store.ZoneFilter{AccountID: "acct1"}, 10, "")
	if err != nil || len(zones) != 1 {
		t.Fatalf("zones after a lost reply and its retry: %d (%v), want 1", len(zones), err)
	}
	recs, _, err := st.ListRecords(context.Background(), z.ID, store.RecordFilter{}, 10, "")
	if err != nil || len(recs) != 1 {
		t.Fatalf("records after a lost reply and its retry: %d (%v), want 1", len(recs), err)
	}
	for _, m := range []string{dnsv1.ZoneService_CreateZone_FullMethodName, dnsv1.RecordService_CreateRecord_FullMethodName} {
		if lostCalls()[m] != 1 {
			t.Fatalf("replies lost for %s: %d, want 1 (the test injected nothing)", m, lostCalls()[m])
		}
	}
}
