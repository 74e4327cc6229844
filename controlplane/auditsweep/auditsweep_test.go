package auditsweep_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/auditsweep"
	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

var etcdCli *clientv3.Client

func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

// TestRunDeletesEntriesPastRetention: with a short retention, a running
// sweeper empties the audit log of every account in etcd itself (not only
// in listings), and stops with its context.
func TestRunDeletesEntriesPastRetention(t *testing.T) {
	const retention = 200 * time.Millisecond
	st := store.NewWithConfig(etcdCli, store.Config{Prefix: etcdtest.Prefix(t), AuditRetention: retention}, zaptest.NewLogger(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 5 {
		acct := fmt.Sprintf("acct%d", i)
		_, err := st.CreateZone(ctx, acct, "example.com.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
			return &dnsv1.Zone{Id: fmt.Sprintf("zone%d", i), AccountId: acct, Name: "example.com.", CreatedOn: timestamppb.Now()}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func() int64 {
		resp, err := etcdCli.Get(ctx, st.AuditPrefix()+"log/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	if n := count(); n != 5 {
		t.Fatalf("%d entries written, want 5", n)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- auditsweep.New(st, 50*time.Millisecond, zaptest.NewLogger(t)).Run(runCtx) }()
	deadline := time.Now().Add(10 * retention)
	for count() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left %v after they expired", count(), 10*retention)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestDefaultIntervalFollowsRetention(t *testing.T) {
	for _, tt := range []struct{ retention, want time.Duration }{
		{90 * 24 * time.Hour, 10 * time.Minute},
		{time.Hour, 225 * time.Second},
		{time.Second, time.Second},
	} {
		if got := auditsweep.DefaultInterval(tt.retention); got != tt.want {
			t.Errorf("DefaultInterval(%v) = %v, want %v", tt.retention, got, tt.want)
		}
	}
}
