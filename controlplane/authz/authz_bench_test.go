package authz

import (
	"context"
	"net"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/zonegrid/zonegrid/controlplane/authn"
	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

var etcdCli *clientv3.Client

func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

// BenchmarkUnaryInterceptor is the CPU cost authorization adds to one
// call once the token and the zone's owner are in memory (every call but
// the first on a zone): metadata, token verification, the rule and scope
// check, the caller in the context.
//
//	go test -run '^$' -bench BenchmarkUnaryInterceptor ./controlplane/authz/
func BenchmarkUnaryInterceptor(b *testing.B) {
	ctx := context.Background()
	st := store.New(etcdCli, etcdtest.Prefix(b), nil)
	z, err := st.CreateZone(ctx, "acme", "bench.example.", func(c store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: "benchzone", AccountId: "acme", Name: "bench.example."}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	id, secret, err := authn.NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	if err := st.CreateToken(ctx, store.StoredToken{Token: &dnsv1.Token{Id: id, AccountId: "acme",
		Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_DNS_WRITE}}, Hash: authn.Hash(secret)}); err != nil {
		b.Fatal(err)
	}
	v := authn.New(st, authn.Options{}, nil)
	vctx, stop := context.WithCancel(ctx)
	defer stop()
	go v.Run(vctx)
	<-v.Ready()
	a := New(v, st, nil)
	callCtx := metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+secret))
	callCtx = peer.NewContext(callCtx, &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	req := &dnsv1.CreateRecordRequest{ZoneId: z.GetId()}
	info := &grpc.UnaryServerInfo{FullMethod: dnsv1.RecordService_CreateRecord_FullMethodName}
	noop := func(ctx context.Context, req any) (any, error) { return nil, nil }
	if _, err := a.Unary(callCtx, req, info, noop); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Unary(callCtx, req, info, noop); err != nil {
			b.Fatal(err)
		}
	}
}
