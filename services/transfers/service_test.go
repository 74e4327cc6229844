package transfers_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/servicetest"
	"github.com/zonegrid/zonegrid/services/transfers"
)

var etcdCli *clientv3.Client

func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

var seq atomic.Int64

type env struct {
	st     *store.Store
	ring   *keyseal.Ring
	c      dnsv1.ZoneTransferServiceClient
	prefix string
}

func newEnv(t *testing.T, withKEK bool) *env {
	t.Helper()
	log := zaptest.NewLogger(t)
	prefix := etcdtest.Prefix(t)
	st := store.NewWithConfig(etcdCli, store.Config{Prefix: prefix}, log)
	var ring *keyseal.Ring
	if withKEK {
		k, _ := keyseal.Generate()
		ring, _ = keyseal.New(k)
	}
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterZoneTransferServiceServer(gs, transfers.New(st, ring, log))
	})
	return &env{st: st, ring: ring, c: dnsv1.NewZoneTransferServiceClient(conn), prefix: prefix}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func (e *env) zone(t *testing.T, acct, name string, typ dnsv1.ZoneType) string {
	t.Helper()
	id := fmt.Sprintf("z%d", seq.Add(1))
	_, err := e.st.CreateZone(ctx(t), acct, name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: acct, Name: name, Type: typ, Plan: dnsv1.Plan_PLAN_ENTERPRISE,
			Status: dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, CreatedOn: timestamppb.Now()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) tsig(t *testing.T, acct string) string {
	t.Helper()
	r, err := e.c.CreateTsig(ctx(t), &dnsv1.CreateTsigRequest{AccountId: acct, Name: fmt.Sprintf("k%d.example.com", seq.Add(1))})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetTsig().GetId()
}

func (e *env) peer(t *testing.T, acct, tsigID string) string {
	t.Helper()
	r, err := e.c.CreatePeer(ctx(t), &dnsv1.CreatePeerRequest{AccountId: acct, Peer: &dnsv1.Peer{Name: "p", Ip: "192.0.2.1", TsigId: tsigID}})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetPeer().GetId()
}

func wantCode(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	c, f := servicetest.Violation(err)
	if c != code || (field != "" && f != field) {
		t.Fatalf("got %v (field %q): %v; want %v naming %q", c, f, err, code, field)
	}
}

func TestTsigSecretIsShownOnceAndStoredSealed(t *testing.T) {
	e := newEnv(t, true)
	r, err := e.c.CreateTsig(ctx(t), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: "Transfer.Example.COM", RequestId: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	tsig := r.GetTsig()
	if tsig.GetName() != "transfer.example.com." || tsig.GetAlgorithm() != "hmac-sha256." {
		t.Fatalf("tsig %v: want the name lower-case fully qualified and hmac-sha256. by default", tsig)
	}
	secret, err := base64.StdEncoding.DecodeString(r.GetSecret())
	if err != nil || len(secret) != 32 {
		t.Fatalf("generated secret %q: want 32 bytes of base64 (%v)", r.GetSecret(), err)
	}
	// Nowhere in etcd in the clear, idempotency records included.
	all, err := etcdCli.Get(ctx(t), e.prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range all.Kvs {
		if strings.Contains(string(kv.Value), string(secret)) || strings.Contains(string(kv.Value), r.GetSecret()) {
			t.Fatalf("the secret is in the clear at %s", kv.Key)
		}
	}
	stored, err := e.st.GetTsig(ctx(t), "acme", tsig.GetId())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := transfers.OpenTsigSecret(e.ring, stored)
	if err != nil || string(plain) != string(secret) {
		t.Fatalf("OpenTsigSecret: %v, want the secret returned at creation", err)
	}
	retry, err := e.c.CreateTsig(ctx(t), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: "Transfer.Example.COM", RequestId: "req-1"})
	if err != nil || retry.GetSecret() != "" || !retry.GetSecretWithheld() || retry.GetTsig().GetId() != tsig.GetId() {
		t.Fatalf("retry: %v, %v; want the same tsig, secret withheld", retry, err)
	}
	l, err := e.c.ListTsigs(ctx(t), &dnsv1.ListTsigsRequest{AccountId: "acme"})
	if err != nil || len(l.GetTsigs()) != 1 {
		t.Fatalf("list: %v, %v", l, err)
	}
}

func TestTsigGivenSecretAndAlgorithms(t *testing.T) {
	e := newEnv(t, true)
	for _, tc := range []struct {
		alg, want string
		size      int
	}{{"hmac-sha1", "hmac-sha1.", 20}, {"HMAC-SHA512.", "hmac-sha512.", 64}, {"", "hmac-sha256.", 32}} {
		r, err := e.c.CreateTsig(ctx(t), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: "k.example", Algorithm: tc.alg})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := base64.StdEncoding.DecodeString(r.GetSecret())
		if r.GetTsig().GetAlgorithm() != tc.want || len(b) != tc.size {
			t.Errorf("algorithm %q: got %s with %d bytes, want %s with %d", tc.alg, r.GetTsig().GetAlgorithm(), len(b), tc.want, tc.size)
		}
	}
	given := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123"))
	r, err := e.c.CreateTsig(ctx(t), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: "given.example", Secret: given})
	if err != nil || r.GetSecret() != given {
		t.Fatalf("given secret: %v, %v", r, err)
	}
}

func TestCreateTsigWithoutKEKNamesTheFlag(t *testing.T) {
	e := newEnv(t, false)
	_, err := e.c.CreateTsig(ctx(t), &dnsv1.CreateTsigRequest{AccountId: "acme", Name: "k.example"})
	if grpcstatus.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "--dnssec-kek-file") {
		t.Fatalf("got %v, want FailedPrecondition naming --dnssec-kek-file", err)
	}
}

func TestInvalidRequestsNameTheField(t *testing.T) {
	e := newEnv(t, true)
	secondary := e.zone(t, "acme", "sec.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	var many []string
	for i := range transfers.MaxLinkedPeers + 1 {
		many = append(many, fmt.Sprintf("p%d", i))
	}
	for _, tc := range []struct {
		name  string
		call  func(context.Context) error
		code  codes.Code
		field string
	}{
		{"tsig account", func(c context.Context) error {
			return ignore(e.c.CreateTsig(c, &dnsv1.CreateTsigRequest{AccountId: "a/b", Name: "k.example"}))
		}, codes.InvalidArgument, "account_id"},
		{"tsig name empty", func(c context.Context) error {
			return ignore(e.c.CreateTsig(c, &dnsv1.CreateTsigRequest{AccountId: "acme"}))
		}, codes.InvalidArgument, "name"},
		{"tsig name not a domain name", func(c context.Context) error {
			return ignore(e.c.CreateTsig(c, &dnsv1.CreateTsigRequest{AccountId: "acme", Name: "bad name!"}))
		}, codes.InvalidArgument, "name"},
		{"tsig algorithm md5", func(c context.Context) error {
			return ignore(e.c.CreateTsig(c, &dnsv1.CreateTsigRequest{AccountId: "acme", Name: "k.example", Algorithm: "hmac-md5"}))
		}, codes.InvalidArgument, "algorithm"},
		{"tsig secret not base64", func(c context.Context) error {
			return ignore(e.c.CreateTsig(c, &dnsv1.CreateTsigRequest{AccountId: "acme", Name: "k.example", Secret: "@@@"}))
		}, codes.InvalidArgument, "secret"},
		{"peer ip", func(c context.Context) error {
			return ignore(e.c.CreatePeer(c, &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{Name: "p", Ip: "192.0.2"}}))
		}, codes.InvalidArgument, "peer.ip"},
		{"peer ip unspecified", func(c context.Context) error {
			return ignore(e.c.CreatePeer(c, &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{Name: "p", Ip: "::"}}))
		}, codes.InvalidArgument, "peer.ip"},
		{"peer port", func(c context.Context) error {
			return ignore(e.c.CreatePeer(c, &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{Name: "p", Ip: "192.0.2.1", Port: 70000}}))
		}, codes.InvalidArgument, "peer.port"},
		{"peer name", func(c context.Context) error {
			return ignore(e.c.CreatePeer(c, &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{Ip: "192.0.2.1"}}))
		}, codes.InvalidArgument, "peer.name"},
		{"peer unknown tsig", func(c context.Context) error {
			return ignore(e.c.CreatePeer(c, &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{Name: "p", Ip: "192.0.2.1", TsigId: "nope"}}))
		}, codes.NotFound, ""},
		{"acl ipv4 wider than /24", func(c context.Context) error {
			return ignore(e.c.CreateAcl(c, &dnsv1.CreateAclRequest{AccountId: "acme", Acl: &dnsv1.Acl{Name: "a", IpRange: "192.0.0.0/23"}}))
		}, codes.InvalidArgument, "acl.ip_range"},
		{"acl ipv6 wider than /64", func(c context.Context) error {
			return ignore(e.c.CreateAcl(c, &dnsv1.CreateAclRequest{AccountId: "acme", Acl: &dnsv1.Acl{Name: "a", IpRange: "2001:db8::/48"}}))
		}, codes.InvalidArgument, "acl.ip_range"},
		{"acl not a range", func(c context.Context) error {
			return ignore(e.c.CreateAcl(c, &dnsv1.CreateAclRequest{AccountId: "acme", Acl: &dnsv1.Acl{Name: "a", IpRange: "example.com"}}))
		}, codes.InvalidArgument, "acl.ip_range"},
		{"incoming refresh too short", func(c context.Context) error {
			return ignore(e.c.UpdateIncoming(c, &dnsv1.UpdateIncomingRequest{ZoneId: secondary, AutoRefreshSeconds: 59}))
		}, codes.InvalidArgument, "auto_refresh_seconds"},
		{"incoming more than 30 peers", func(c context.Context) error {
			return ignore(e.c.UpdateIncoming(c, &dnsv1.UpdateIncomingRequest{ZoneId: secondary, Peers: many}))
		}, codes.InvalidArgument, "peers"},
		{"incoming peer twice", func(c context.Context) error {
			return ignore(e.c.UpdateIncoming(c, &dnsv1.UpdateIncomingRequest{ZoneId: secondary, Peers: []string{"p1", "p1"}}))
		}, codes.InvalidArgument, "peers[1]"},
		{"incoming unknown peer", func(c context.Context) error {
			return ignore(e.c.UpdateIncoming(c, &dnsv1.UpdateIncomingRequest{ZoneId: secondary, Peers: []string{"nope"}}))
		}, codes.NotFound, ""},
		{"incoming unknown zone", func(c context.Context) error {
			return ignore(e.c.GetIncoming(c, &dnsv1.GetIncomingRequest{ZoneId: "nozone"}))
		}, codes.NotFound, ""},
		{"outgoing zone id missing", func(c context.Context) error {
			return ignore(e.c.UpdateOutgoing(c, &dnsv1.UpdateOutgoingRequest{}))
		}, codes.InvalidArgument, "zone_id"},
		{"request id", func(c context.Context) error {
			return ignore(e.c.CreateAcl(c, &dnsv1.CreateAclRequest{AccountId: "acme", Acl: &dnsv1.Acl{Name: "a", IpRange: "192.0.2.0/24"}, RequestId: "bad id"}))
		}, codes.InvalidArgument, "request_id"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(ctx(t)), tc.code, tc.field) })
	}
}

func ignore[T any](_ T, err error) error { return err }

func TestACLRangesAreStoredMasked(t *testing.T) {
	e := newEnv(t, true)
	for in, want := range map[string]string{
		"192.0.2.77/24":       "192.0.2.0/24",
		"192.0.2.77/25":       "192.0.2.0/25",
		"192.0.2.77":          "192.0.2.77/32",
		"2001:DB8::1/64":      "2001:db8::/64",
		"2001:db8::53/128":    "2001:db8::53/128",
		"2001:db8:0:0:1::/80": "2001:db8:0:0:1::/80",
	} {
		r, err := e.c.CreateAcl(ctx(t), &dnsv1.CreateAclRequest{AccountId: "acme", Acl: &dnsv1.Acl{Name: "n", IpRange: in}})
		if err != nil || r.GetAcl().GetIpRange() != want {
			t.Errorf("%s: got %v, %v; want %s", in, r.GetAcl().GetIpRange(), err, want)
			continue
		}
		g, err := e.c.GetAcl(ctx(t), &dnsv1.GetAclRequest{AccountId: "acme", AclId: r.GetAcl().GetId()})
		if err != nil || g.GetAcl().GetIpRange() != want {
			t.Errorf("get %s: %v, %v", in, g, err)
		}
	}
	l, err := e.c.ListAcls(ctx(t), &dnsv1.ListAclsRequest{AccountId: "acme"})
	if err != nil || len(l.GetAcls()) != 6 {
		t.Fatalf("list: %d acls, %v", len(l.GetAcls()), err)
	}
	if _, err := e.c.DeleteAcl(ctx(t), &dnsv1.DeleteAclRequest{AccountId: "acme", AclId: l.GetAcls()[0].GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.GetAcl(ctx(t), &dnsv1.GetAclRequest{AccountId: "acme", AclId: l.GetAcls()[0].GetId()})
	wantCode(t, err, codes.NotFound, "")
}

func TestObjectsOfAnotherAccountAreNotFound(t *testing.T) {
	e := newEnv(t, true)
	tsig := e.tsig(t, "other")
	peer := e.peer(t, "other", "")
	secondary := e.zone(t, "acme", "sec.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	for name, err := range map[string]error{
		"get tsig":            ignore(e.c.GetTsig(ctx(t), &dnsv1.GetTsigRequest{AccountId: "acme", TsigId: tsig})),
		"delete tsig":         ignore(e.c.DeleteTsig(ctx(t), &dnsv1.DeleteTsigRequest{AccountId: "acme", TsigId: tsig})),
		"get peer":            ignore(e.c.GetPeer(ctx(t), &dnsv1.GetPeerRequest{AccountId: "acme", PeerId: peer})),
		"update peer":         ignore(e.c.UpdatePeer(ctx(t), &dnsv1.UpdatePeerRequest{AccountId: "acme", PeerId: peer, Peer: &dnsv1.Peer{Name: "x", Ip: "192.0.2.9"}})),
		"peer linking a tsig": ignore(e.c.CreatePeer(ctx(t), &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{Name: "x", Ip: "192.0.2.9", TsigId: tsig}})),
		"zone linking a peer": ignore(e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: secondary, Peers: []string{peer}})),
	} {
		if grpcstatus.Code(err) != codes.NotFound {
			t.Errorf("%s: got %v, want NotFound", name, err)
		}
	}
}

func TestDeletionsAreRefusedWhileLinked(t *testing.T) {
	e := newEnv(t, true)
	tsig := e.tsig(t, "acme")
	peer := e.peer(t, "acme", tsig)
	secondary := e.zone(t, "acme", "sec.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	if _, err := e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: secondary, Peers: []string{peer}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.DeleteTsig(ctx(t), &dnsv1.DeleteTsigRequest{AccountId: "acme", TsigId: tsig})
	wantCode(t, err, codes.FailedPrecondition, "")
	_, err = e.c.DeletePeer(ctx(t), &dnsv1.DeletePeerRequest{AccountId: "acme", PeerId: peer})
	wantCode(t, err, codes.FailedPrecondition, "")
	if !strings.Contains(err.Error(), secondary) {
		t.Errorf("refusal %v: want it to name the zone linking the peer", err)
	}
	// Unlinked, both go.
	if _, err := e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: secondary}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeletePeer(ctx(t), &dnsv1.DeletePeerRequest{AccountId: "acme", PeerId: peer}); err != nil {
		t.Fatalf("delete unlinked peer: %v", err)
	}
	if _, err := e.c.DeleteTsig(ctx(t), &dnsv1.DeleteTsigRequest{AccountId: "acme", TsigId: tsig}); err != nil {
		t.Fatalf("delete unlinked tsig: %v", err)
	}
	_, err = e.c.GetTsig(ctx(t), &dnsv1.GetTsigRequest{AccountId: "acme", TsigId: tsig})
	wantCode(t, err, codes.NotFound, "")
}

func TestLinkedPeersMustShareOneTsig(t *testing.T) {
	e := newEnv(t, true)
	a, b := e.tsig(t, "acme"), e.tsig(t, "acme")
	pa1, pa2, pb, plain := e.peer(t, "acme", a), e.peer(t, "acme", a), e.peer(t, "acme", b), e.peer(t, "acme", "")
	secondary := e.zone(t, "acme", "sec.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	full := e.zone(t, "acme", "full.example.", dnsv1.ZoneType_ZONE_TYPE_FULL)

	_, err := e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: secondary, Peers: []string{pa1, pb}})
	wantCode(t, err, codes.InvalidArgument, "peers[1]")
	_, err = e.c.UpdateOutgoing(ctx(t), &dnsv1.UpdateOutgoingRequest{ZoneId: full, Enabled: true, Peers: []string{plain, pa1}})
	wantCode(t, err, codes.InvalidArgument, "peers[0]")
	if _, err := e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: secondary, Peers: []string{pa1, pa2}}); err != nil {
		t.Fatalf("peers with one TSIG: %v", err)
	}
	// A peer change that would break the rule in a zone linking it.
	_, err = e.c.UpdatePeer(ctx(t), &dnsv1.UpdatePeerRequest{AccountId: "acme", PeerId: pa2, Peer: &dnsv1.Peer{Name: "p", Ip: "192.0.2.1", TsigId: b}})
	wantCode(t, err, codes.InvalidArgument, "peer.tsig_id")
	// Other fields change freely.
	u, err := e.c.UpdatePeer(ctx(t), &dnsv1.UpdatePeerRequest{AccountId: "acme", PeerId: pa2, Peer: &dnsv1.Peer{Name: "renamed", Ip: "2001:db8::1", Port: 5353, IxfrEnable: true, TsigId: a}})
	if err != nil || u.GetPeer().GetName() != "renamed" || u.GetPeer().GetIp() != "2001:db8::1" || u.GetPeer().GetPort() != 5353 {
		t.Fatalf("update peer: %v, %v", u, err)
	}
}

func TestIncomingAppliesToSecondaryZonesOnly(t *testing.T) {
	e := newEnv(t, true)
	full := e.zone(t, "acme", "full.example.", dnsv1.ZoneType_ZONE_TYPE_FULL)
	secondary := e.zone(t, "acme", "sec.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	g, err := e.c.GetIncoming(ctx(t), &dnsv1.GetIncomingRequest{ZoneId: full})
	if err != nil || g.GetIncoming().GetStatus().GetState() != dnsv1.TransferState_TRANSFER_STATE_NOT_APPLICABLE {
		t.Fatalf("GetIncoming of a full zone: %v, %v; want NOT_APPLICABLE", g, err)
	}
	_, err = e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: full})
	wantCode(t, err, codes.FailedPrecondition, "")
	_, err = e.c.UpdateOutgoing(ctx(t), &dnsv1.UpdateOutgoingRequest{ZoneId: secondary, Enabled: true})
	wantCode(t, err, codes.FailedPrecondition, "")

	g, err = e.c.GetIncoming(ctx(t), &dnsv1.GetIncomingRequest{ZoneId: secondary})
	if err != nil || g.GetIncoming().GetAutoRefreshSeconds() != transfers.DefaultAutoRefresh ||
		g.GetIncoming().GetStatus().GetState() != dnsv1.TransferState_TRANSFER_STATE_DISABLED || g.GetIncoming().GetZoneName() != "sec.example." {
		t.Fatalf("GetIncoming before any update: %v, %v; want the default refresh, DISABLED", g, err)
	}
	p := e.peer(t, "acme", "")
	u, err := e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: secondary, AutoRefreshSeconds: 300, Peers: []string{p}})
	if err != nil || u.GetIncoming().GetAutoRefreshSeconds() != 300 || u.GetIncoming().GetStatus().GetState() != dnsv1.TransferState_TRANSFER_STATE_PENDING {
		t.Fatalf("UpdateIncoming: %v, %v; want refresh 300, PENDING", u, err)
	}
	// The worker's report shows in Get.
	rep := &dnsv1.TransferStatus{State: dnsv1.TransferState_TRANSFER_STATE_FAILING, Serial: 7,
		Peers: []*dnsv1.PeerTransferStatus{{PeerId: p, LastError: "connection refused"}}}
	if err := e.st.PutTransferStatus(ctx(t), secondary, store.TransferIncoming, rep); err != nil {
		t.Fatal(err)
	}
	g, err = e.c.GetIncoming(ctx(t), &dnsv1.GetIncomingRequest{ZoneId: secondary})
	if err != nil || g.GetIncoming().GetStatus().GetState() != dnsv1.TransferState_TRANSFER_STATE_FAILING ||
		g.GetIncoming().GetStatus().GetPeers()[0].GetLastError() != "connection refused" {
		t.Fatalf("GetIncoming after a report: %v, %v", g, err)
	}
	ids, err := e.st.TransferZoneIDs(ctx(t), store.TransferIncoming)
	if err != nil || len(ids) != 1 || ids[0] != secondary {
		t.Fatalf("TransferZoneIDs: %v, %v", ids, err)
	}
}

func TestOutgoingEnableAndDisable(t *testing.T) {
	e := newEnv(t, true)
	full := e.zone(t, "acme", "full.example.", dnsv1.ZoneType_ZONE_TYPE_FULL)
	g, err := e.c.GetOutgoing(ctx(t), &dnsv1.GetOutgoingRequest{ZoneId: full})
	if err != nil || g.GetOutgoing().GetEnabled() || g.GetOutgoing().GetStatus().GetState() != dnsv1.TransferState_TRANSFER_STATE_DISABLED {
		t.Fatalf("GetOutgoing before any update: %v, %v", g, err)
	}
	p := e.peer(t, "acme", "")
	u, err := e.c.UpdateOutgoing(ctx(t), &dnsv1.UpdateOutgoingRequest{ZoneId: full, Enabled: true, Peers: []string{p}, RequestId: "o1"})
	if err != nil || !u.GetOutgoing().GetEnabled() || u.GetOutgoing().GetStatus().GetState() != dnsv1.TransferState_TRANSFER_STATE_PENDING {
		t.Fatalf("enable: %v, %v", u, err)
	}
	// A retry with the same request id answers the same, status included.
	again, err := e.c.UpdateOutgoing(ctx(t), &dnsv1.UpdateOutgoingRequest{ZoneId: full, Enabled: true, Peers: []string{p}, RequestId: "o1"})
	if err != nil || again.GetOutgoing().GetStatus().GetState() != dnsv1.TransferState_TRANSFER_STATE_PENDING ||
		!again.GetOutgoing().GetModifiedOn().AsTime().Equal(u.GetOutgoing().GetModifiedOn().AsTime()) {
		t.Fatalf("retry: %v, %v; want the first response", again, err)
	}
	if _, err := e.c.UpdateOutgoing(ctx(t), &dnsv1.UpdateOutgoingRequest{ZoneId: full, Enabled: false, Peers: []string{p}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := e.st.GetOutgoingTransfer(ctx(t), full)
	if err != nil || cfg.GetEnabled() || len(cfg.GetPeers()) != 1 {
		t.Fatalf("stored outgoing: %v, %v", cfg, err)
	}
}

func TestPurgeZoneDeletesItsTransferConfigAndLinks(t *testing.T) {
	e := newEnv(t, true)
	secondary := e.zone(t, "acme", "sec.example.", dnsv1.ZoneType_ZONE_TYPE_SECONDARY)
	p := e.peer(t, "acme", "")
	if _, err := e.c.UpdateIncoming(ctx(t), &dnsv1.UpdateIncomingRequest{ZoneId: secondary, Peers: []string{p}}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutTransferStatus(ctx(t), secondary, store.TransferIncoming, &dnsv1.TransferStatus{State: dnsv1.TransferState_TRANSFER_STATE_OK}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.PurgeZone(ctx(t), secondary); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"/data/transfer/zones/", "/xfr/status/", "/data/transfer/accounts/acme/peerlinks/"} {
		r, err := etcdCli.Get(ctx(t), e.prefix+k, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || r.Count != 0 {
			t.Errorf("%s after purge: %d keys, %v", k, r.Count, err)
		}
	}
	// A late report of the worker cannot outlive the zone.
	err := e.st.PutTransferStatus(ctx(t), secondary, store.TransferIncoming, &dnsv1.TransferStatus{})
	if err == nil {
		t.Error("PutTransferStatus of a purged zone succeeded")
	}
	if _, err := e.c.DeletePeer(ctx(t), &dnsv1.DeletePeerRequest{AccountId: "acme", PeerId: p}); err != nil {
		t.Fatalf("delete the peer of a purged zone: %v", err)
	}
}

// Concurrent deletes of a TSIG and creations of peers linking it: never
// a peer linking a deleted TSIG.
func TestConcurrentTsigDeleteAndPeerLink(t *testing.T) {
	e := newEnv(t, true)
	for range 5 {
		tsig := e.tsig(t, "acme")
		done := make(chan error, 2)
		go func() {
			done <- ignore(e.c.DeleteTsig(ctx(t), &dnsv1.DeleteTsigRequest{AccountId: "acme", TsigId: tsig}))
		}()
		go func() {
			done <- ignore(e.c.CreatePeer(ctx(t), &dnsv1.CreatePeerRequest{AccountId: "acme", Peer: &dnsv1.Peer{Name: "p", Ip: "192.0.2.1", TsigId: tsig}}))
		}()
		<-done
		<-done
		peers, err := e.st.ListPeers(ctx(t), "acme")
		if err != nil {
			t.Fatal(err)
		}
		_, tErr := e.st.GetTsig(ctx(t), "acme", tsig)
		for _, p := range peers {
			if p.GetTsigId() == tsig && tErr != nil {
				t.Fatalf("peer %s links the deleted tsig %s", p.GetId(), tsig)
			}
		}
	}
}
