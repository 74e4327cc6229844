package store_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// blackHole accepts TCP connections on loopback and never answers on them:
// to the etcd client it is an etcd that hangs (as a SIGSTOPped one does,
// which a test cannot do to an in-process etcd).
func blackHole(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

// Every etcd call of the store has a server-side deadline: against an etcd
// that accepts connections and never answers, reads and writes fail with
// ErrUnavailable within the call timeout, even for a caller without a
// deadline of its own, while a caller's own shorter deadline stays a
// deadline error.
func TestHungEtcdFailsUnavailableWithinTheCallTimeout(t *testing.T) {
	const callTimeout = 500 * time.Millisecond
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{blackHole(t)}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	s := store.NewWithConfig(cli, store.Config{Prefix: "/hung", CallTimeout: callTimeout}, zaptest.NewLogger(t))

	noRecords := func(context.Context, store.ZoneView) ([]store.RecordOp, error) { return nil, nil }
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"revision read", func(ctx context.Context) error { _, err := s.CurrentRevision(ctx); return err }},
		{"zone read", func(ctx context.Context) error { _, err := s.GetZone(ctx, "z1"); return err }},
		{"zone listing", func(ctx context.Context) error {
			_, _, err := s.ListZones(ctx, store.ZoneFilter{}, 10, "")
			return err
		}},
		{"zone creation", func(ctx context.Context) error {
			_, err := s.CreateZone(ctx, "acct1", "hung.example.", func(c store.ZoneCreation) (*dnsv1.Zone, error) {
				return &dnsv1.Zone{Id: "z1", AccountId: "acct1", Name: "hung.example."}, nil
			})
			return err
		}},
		{"group-committed record write", func(ctx context.Context) error { return s.UpdateRecords(ctx, "z1", noRecords) }},
	}
	for _, c := range calls {
		t.Run(c.name+" without a caller deadline is unavailable", func(t *testing.T) {
			start := time.Now()
			err := c.call(context.Background())
			took := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if took > callTimeout+time.Second {
				t.Fatalf("took %s, want about the call timeout %s", took, callTimeout)
			}
			t.Logf("unavailable after %s: %v", took.Round(time.Millisecond), err)
		})
		t.Run(c.name+" with a shorter caller deadline keeps the caller's deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout/5)
			defer cancel()
			err := c.call(ctx)
			if errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the caller's DeadlineExceeded", err)
			}
		})
	}
}
