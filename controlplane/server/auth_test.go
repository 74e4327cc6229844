package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/controlplane/clientconfig"
	"github.com/zonegrid/zonegrid/controlplane/devcreds"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

func TestListingsShowOnlyWhatTheCallerSees(t *testing.T) {
	s := startAuthServer(t)
	fx := newMatrixFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := func(token string, req *dnsv1.ListZonesRequest) []string {
		t.Helper()
		resp, err := dnsv1.NewZoneServiceClient(dialToken(t, s, token)).ListZones(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, z := range resp.GetZones() {
			out = append(out, z.GetName())
		}
		return out
	}
	tests := []struct {
		name  string
		token string
		req   *dnsv1.ListZonesRequest
		want  string
	}{
		{"account token without account lists its own account", fx.tokens[pRight], &dnsv1.ListZonesRequest{}, "acme.com.,acme2.com."},
		{"another account's token lists only its own zones", fx.tokens[pWrongAccount], &dnsv1.ListZonesRequest{}, "other.com."},
		{"name filter does not cross accounts", fx.tokens[pWrongAccount], &dnsv1.ListZonesRequest{Name: "acme.com"}, ""},
		{"zone-scoped token lists its zones only", fx.tokens[pZoneScoped], &dnsv1.ListZonesRequest{AccountId: "acme"}, "acme2.com."},
		{"zone-scoped token with a name it cannot see", fx.tokens[pZoneScoped], &dnsv1.ListZonesRequest{Name: "acme.com"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(names(tt.token, tt.req), ","); got != tt.want {
				t.Fatalf("zones %q, want %q", got, tt.want)
			}
		})
	}
	// The operator sees every account.
	if got := names(testOperatorToken, &dnsv1.ListZonesRequest{}); len(got) < 3 {
		t.Fatalf("operator sees %v", got)
	}
}

func TestRevocationTakesEffectWithinSeconds(t *testing.T) {
	s := startAuthServer(t)
	fx := newMatrixFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, secret := fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: allPermissions()})
	zones := dnsv1.NewZoneServiceClient(dialToken(t, s, secret))
	if _, err := zones.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: fx.z1}); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if _, err := dnsv1.NewTokenServiceClient(fx.op).RevokeToken(ctx, &dnsv1.RevokeTokenRequest{TokenId: id}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		_, err := zones.GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: fx.z1})
		if grpcstatus.Code(err) == codes.Unauthenticated {
			t.Logf("revoked token refused %v after the revocation", time.Since(start))
			return
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("revoked token still accepted after %v (last: %v)", time.Since(start), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTokenCannotGrantMoreThanItHolds(t *testing.T) {
	s := startAuthServer(t)
	fx := newMatrixFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	limitedExpiry := time.Now().Add(time.Hour)
	_, limited := fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{
		Permissions:  []dnsv1.Permission{dnsv1.Permission_PERMISSION_API_TOKENS_WRITE, dnsv1.Permission_PERMISSION_DNS_READ},
		ExpiresOn:    timestampOf(limitedExpiry),
		AllowedCidrs: []string{"127.0.0.0/8"},
	})
	tc := dnsv1.NewTokenServiceClient(dialToken(t, s, limited))
	perms := func(ps ...dnsv1.Permission) []dnsv1.Permission { return ps }
	tests := []struct {
		name      string
		req       *dnsv1.CreateTokenRequest
		wantCode  codes.Code
		wantField string
	}{
		{"a permission it holds, narrower", &dnsv1.CreateTokenRequest{Permissions: perms(dnsv1.Permission_PERMISSION_DNS_READ),
			ExpiresOn: timestampOf(limitedExpiry.Add(-time.Minute)), AllowedCidrs: []string{"127.0.0.1/32"}}, codes.OK, ""},
		{"a permission it lacks", &dnsv1.CreateTokenRequest{Permissions: perms(dnsv1.Permission_PERMISSION_DNS_WRITE),
			ExpiresOn: timestampOf(limitedExpiry), AllowedCidrs: []string{"127.0.0.1/32"}}, codes.InvalidArgument, "permissions[0]"},
		{"outliving it", &dnsv1.CreateTokenRequest{Permissions: perms(dnsv1.Permission_PERMISSION_DNS_READ),
			ExpiresOn: timestampOf(limitedExpiry.Add(time.Hour)), AllowedCidrs: []string{"127.0.0.1/32"}}, codes.InvalidArgument, "expires_on"},
		{"never expiring", &dnsv1.CreateTokenRequest{Permissions: perms(dnsv1.Permission_PERMISSION_DNS_READ),
			AllowedCidrs: []string{"127.0.0.1/32"}}, codes.InvalidArgument, "expires_on"},
		{"wider source ranges", &dnsv1.CreateTokenRequest{Permissions: perms(dnsv1.Permission_PERMISSION_DNS_READ),
			ExpiresOn: timestampOf(limitedExpiry), AllowedCidrs: []string{"0.0.0.0/0"}}, codes.InvalidArgument, "allowed_cidrs[0]"},
		{"a zone of another account", &dnsv1.CreateTokenRequest{Permissions: perms(dnsv1.Permission_PERMISSION_DNS_READ),
			ExpiresOn: timestampOf(limitedExpiry), AllowedCidrs: []string{"127.0.0.1/32"}, ZoneIds: []string{fx.zo}}, codes.InvalidArgument, "zone_ids[0]"},
		{"no permissions", &dnsv1.CreateTokenRequest{ExpiresOn: timestampOf(limitedExpiry), AllowedCidrs: []string{"127.0.0.1/32"}}, codes.InvalidArgument, "permissions"},
		{"unknown permission", &dnsv1.CreateTokenRequest{Permissions: perms(99), ExpiresOn: timestampOf(limitedExpiry), AllowedCidrs: []string{"127.0.0.1/32"}}, codes.InvalidArgument, "permissions[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.AccountId, tt.req.Name = "acme", "child"
			before := revision(ctx, t, s)
			resp, err := tc.CreateToken(ctx, tt.req)
			code, field := grpcstatus.Code(err), violationField(err)
			if code != tt.wantCode || field != tt.wantField {
				t.Fatalf("code %v field %q (%v), want %v %q", code, field, err, tt.wantCode, tt.wantField)
			}
			if err != nil && revision(ctx, t, s) != before {
				t.Fatal("a refused token creation wrote to etcd")
			}
			if err == nil && !strings.HasPrefix(resp.GetSecret(), "zgt_"+resp.GetToken().GetId()+"_") {
				t.Fatalf("secret %q does not name token %s", resp.GetSecret(), resp.GetToken().GetId())
			}
		})
	}
}

func TestSecretsAreNotStoredOrReturnedAgain(t *testing.T) {
	s := startAuthServer(t)
	fx := newMatrixFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, secret := fx.createToken(ctx, "acme", &dnsv1.CreateTokenRequest{Permissions: allPermissions()})
	// The random part is base64url, which may itself hold "_": cut the
	// known prefix, never at the last "_" (a 1-character tail matched
	// binary values by chance).
	random := strings.TrimPrefix(secret, "zgt_"+id+"_")
	if random == secret || len(random) < 40 {
		t.Fatalf("secret %q does not read zgt_<id>_<random>", secret)
	}
	resp, err := s.Store().Client().Get(ctx, "", withFromKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Value), random) || strings.Contains(string(kv.Value), secret) {
			t.Fatalf("etcd key %s holds the token secret in plain", kv.Key)
		}
	}
	got, err := dnsv1.NewTokenServiceClient(fx.op).GetToken(ctx, &dnsv1.GetTokenRequest{TokenId: id})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.String(), random) {
		t.Fatal("GetToken returned the secret")
	}
}

func TestPublicMethodsNeedNoToken(t *testing.T) {
	s := startAuthServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := rpb.NewServerReflectionClient(dialToken(t, s, "")).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatalf("reflection without a token: %v", err)
	}
	if !strings.Contains(resp.String(), "dns.v1.TokenService") {
		t.Fatalf("reflection lists %v", resp)
	}
}

func TestTLSListener(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := zaptest.NewLogger(t)
	emb := startEmbedded(t)
	dir := t.TempDir()
	files, err := devcreds.ServerTLS(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	// A CA of our own for client certificates: the dev server certificate
	// serves as a client certificate too, signed by the other CA, so it
	// must be refused; with none at all, refused when required.
	other, err := devcreds.ServerTLS(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	base := Config{GRPCAddr: "127.0.0.1:0", EtcdEndpoints: emb.EtcdEndpoints(), DisableBuilder: true,
		OperatorTokens: []string{testOperatorToken}}

	t.Run("plaintext on a public address is refused at start", func(t *testing.T) {
		cfg := base
		cfg.GRPCAddr = "0.0.0.0:0"
		if _, err := New(ctx, cfg, log); err == nil || !strings.Contains(err.Error(), "plaintext") {
			t.Fatalf("New = %v, want a refusal naming plaintext", err)
		}
	})

	cfg := base
	cfg.TLS = ServerTLS{CertFile: files.Cert, KeyFile: files.Key, ClientCAFile: files.CA, RequireClientCert: true}
	s, err := New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	tests := []struct {
		name string
		cc   clientconfig.Config
		ok   bool
	}{
		{"plaintext client", clientconfig.Config{}, false},
		{"TLS without a client certificate", clientconfig.Config{TLS: true, CAFile: files.CA}, false},
		{"client certificate of another CA", clientconfig.Config{TLS: true, CAFile: files.CA, CertFile: other.Cert, KeyFile: other.Key}, false},
		{"server not trusted", clientconfig.Config{TLS: true, CAFile: other.CA, CertFile: files.Cert, KeyFile: files.Key}, false},
		{"mutual TLS", clientconfig.Config{TLS: true, CAFile: files.CA, CertFile: files.Cert, KeyFile: files.Key}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cc.Endpoint, tt.cc.Token = s.GRPCAddr(), testOperatorToken
			conn, err := tt.cc.Dial()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			_, err = dnsv1.NewTokenServiceClient(conn).VerifyToken(cctx, &dnsv1.VerifyTokenRequest{})
			if (err == nil) != tt.ok {
				t.Fatalf("VerifyToken = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestAnotherAccountsZoneLooksMissing: the error for another account's
// zone is the very error for a zone id that does not exist, so ids do not
// reveal that a zone exists.
func TestAnotherAccountsZoneLooksMissing(t *testing.T) {
	s := startAuthServer(t)
	fx := newMatrixFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	records := dnsv1.NewRecordServiceClient(dialToken(t, s, fx.tokens[pRight]))
	const missing = "0123456789abcdef0123456789abcdef"
	_, errMissing := records.ListRecords(ctx, &dnsv1.ListRecordsRequest{ZoneId: missing})
	_, errForeign := records.ListRecords(ctx, &dnsv1.ListRecordsRequest{ZoneId: fx.zo})
	norm := func(err error) string {
		return strings.ReplaceAll(strings.ReplaceAll(err.Error(), missing, "ID"), fx.zo, "ID")
	}
	if grpcstatus.Code(errForeign) != codes.NotFound || norm(errForeign) != norm(errMissing) {
		t.Fatalf("foreign zone: %v; missing zone: %v", errForeign, errMissing)
	}
}
