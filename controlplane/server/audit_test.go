package server

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// TestServerAuditsAndSweepsExpiredEntries checks the wiring: a change made
// over the API is in the audit log with its token, and the control plane's
// own sweeper deletes it from etcd once the retention has passed.
func TestServerAuditsAndSweepsExpiredEntries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := startServer(t, Config{DisableBuilder: true, AuditRetention: 2 * time.Second})
	conn := operatorConn(t, s)
	z, err := dnsv1.NewZoneServiceClient(conn).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "audited.com"})
	if err != nil {
		t.Fatal(err)
	}
	logs, err := dnsv1.NewAuditServiceClient(conn).ListAuditLogs(ctx, &dnsv1.ListAuditLogsRequest{AccountId: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs.GetEntries()) != 1 || logs.GetEntries()[0].GetActor().GetTokenId() != "operator" ||
		logs.GetEntries()[0].GetAction() != dnsv1.ZoneService_CreateZone_FullMethodName ||
		logs.GetEntries()[0].GetZoneId() != z.GetZone().GetId() {
		t.Fatalf("audit log %v", logs.GetEntries())
	}
	prefix := s.Store().AuditPrefix() + "log/"
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := s.Store().Client().Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit entries still in etcd long after the retention", resp.Count)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
