package authn

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestParseSecret(t *testing.T) {
	tests := []struct {
		in     string
		wantID string
		ok     bool
	}{
		{"zgt_abc_random", "abc", true},
		{"zgt_operator_xyz", "operator", true},
		{"zgt_abc_", "", false},
		{"zgt__random", "", false},
		{"zgt_abc", "", false},
		{"Bearer zgt_abc_r", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		id, ok := parseSecret(tt.in)
		if id != tt.wantID || ok != tt.ok {
			t.Errorf("parseSecret(%q) = %q, %v; want %q, %v", tt.in, id, ok, tt.wantID, tt.ok)
		}
	}
}

func TestNewSecretNamesItsToken(t *testing.T) {
	id, secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := parseSecret(secret)
	if !ok || got != id || len(secret) < 60 {
		t.Fatalf("secret %q parses to %q, %v; id %q", secret, got, ok, id)
	}
	_, other, _ := NewSecret()
	if other == secret {
		t.Fatal("two secrets are equal")
	}
}

// TestVerify runs the in-memory path: the tokens are put into the cache
// as the watch would, and misses never reach etcd.
func TestVerify(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	opSecret, _ := NewOperatorSecret()
	v := New(nil, Options{OperatorSecrets: []string{opSecret}, Now: func() time.Time { return now }}, nil)
	v.misses = rate.NewLimiter(0, 0)
	add := func(tok *dnsv1.Token) string {
		t.Helper()
		id, secret, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		tok.Id, tok.AccountId = id, "acme"
		e, err := newEntry(store.StoredToken{Token: tok, Hash: Hash(secret)})
		if err != nil {
			t.Fatal(err)
		}
		v.tokens[id] = e
		return secret
	}
	plain := add(&dnsv1.Token{Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_DNS_READ}})
	expired := add(&dnsv1.Token{ExpiresOn: timestamppb.New(now.Add(-time.Second))})
	later := add(&dnsv1.Token{ExpiresOn: timestamppb.New(now.Add(time.Hour))})
	ranged := add(&dnsv1.Token{AllowedCidrs: []string{"192.0.2.0/24", "2001:db8::/32"}})
	local := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name     string
		secret   string
		from     netip.Addr
		wantErr  error
		operator bool
	}{
		{"valid token", plain, local, nil, false},
		{"wrong secret for a known id", plain[:len(plain)-2] + "xx", local, ErrUnauthenticated, false},
		{"unknown id", "zgt_0123456789abcdef0123456789abcdef_x", local, ErrUnauthenticated, false},
		{"not a token", "hunter2", local, ErrUnauthenticated, false},
		{"expired", expired, local, ErrUnauthenticated, false},
		{"not yet expired", later, local, nil, false},
		{"inside its ranges", ranged, netip.MustParseAddr("192.0.2.77"), nil, false},
		{"inside its ranges, v4-mapped", ranged, netip.MustParseAddr("::ffff:192.0.2.77"), nil, false},
		{"inside its IPv6 range", ranged, netip.MustParseAddr("2001:db8::1"), nil, false},
		{"outside its ranges", ranged, local, ErrSourceNotAllowed, false},
		{"unknown source address", ranged, netip.Addr{}, ErrSourceNotAllowed, false},
		{"operator", opSecret, local, nil, true},
		{"operator id with another secret", "zgt_operator_guess", local, ErrUnauthenticated, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.secret, tt.from)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err == nil && c.Operator != tt.operator {
				t.Fatalf("operator %v, want %v", c.Operator, tt.operator)
			}
		})
	}
}

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

// TestVerifyFallsBackToEtcdAndFollowsRevocation covers what the in-memory
// test cannot: a token created elsewhere (not yet in memory) is read from
// etcd; one the watch saw revoked is refused even if a read raced the
// revocation; and a running verifier drops a revoked token from memory.
func TestVerifyFallsBackToEtcdAndFollowsRevocation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := store.New(etcdCli, etcdtest.Prefix(t), nil)
	mk := func() (string, string) {
		id, secret, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		tok := &dnsv1.Token{Id: id, AccountId: "acme", Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_DNS_READ}}
		if err := st.CreateToken(ctx, store.StoredToken{Token: tok, Hash: Hash(secret)}); err != nil {
			t.Fatal(err)
		}
		return id, secret
	}
	local := netip.MustParseAddr("127.0.0.1")

	v := New(st, Options{}, nil) // not running: memory stays empty
	_, fresh := mk()
	if _, err := v.Verify(ctx, fresh, local); err != nil {
		t.Fatalf("token only in etcd: %v", err)
	}
	racedID, raced := mk()
	v.mu.Lock()
	v.deleted[racedID] = struct{}{} // the watch saw it revoked
	v.mu.Unlock()
	if _, err := v.Verify(ctx, raced, local); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("token revoked while being read: %v", err)
	}

	running := New(st, Options{}, nil)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go running.Run(rctx)
	<-running.Ready()
	id, secret := mk()
	if _, err := running.Verify(ctx, secret, local); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := running.Verify(ctx, secret, local); errors.Is(err, ErrUnauthenticated) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revoked token still verifies")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkVerify(b *testing.B) {
	v := New(nil, Options{}, nil)
	id, secret, _ := NewSecret()
	e, _ := newEntry(store.StoredToken{Token: &dnsv1.Token{Id: id, AccountId: "acme"}, Hash: Hash(secret)})
	v.tokens[id] = e
	from := netip.MustParseAddr("127.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), secret, from); err != nil {
			b.Fatal(err)
		}
	}
}
