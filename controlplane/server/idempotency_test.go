package server

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// TestRequestIDMakesWritesSafeToRetry: a write whose reply was lost
// (simulated by simply calling again with the same request id) returns the
// first response and changes nothing (the etcd revision stays, so no
// record, zone or audit entry is written twice); the same id with another
// request is refused naming request_id.
func TestRequestIDMakesWritesSafeToRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, _ := startServer(t, Config{DisableBuilder: true})
	conn := operatorConn(t, s)
	zr, err := dnsv1.NewZoneServiceClient(conn).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "retry.com"})
	if err != nil {
		t.Fatal(err)
	}
	zid := zr.GetZone().GetId()
	rc := dnsv1.NewRecordServiceClient(conn)
	seed, err := rc.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zid, Record: &dnsv1.Record{Name: "seed", Type: "A", Content: "192.0.2.9", Ttl: 300}})
	if err != nil {
		t.Fatal(err)
	}
	seedID := seed.GetRecord().GetId()

	revision := func() int64 {
		t.Helper()
		resp, err := s.Store().Client().Get(ctx, "/")
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	zc := dnsv1.NewZoneServiceClient(conn)
	doomed, err := zc.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "doomed.com"})
	if err != nil {
		t.Fatal(err)
	}
	sc := dnsv1.NewSettingsServiceClient(conn)
	tc := dnsv1.NewTokenServiceClient(conn)
	newToken := func() string {
		t.Helper()
		r, err := tc.CreateToken(ctx, &dnsv1.CreateTokenRequest{AccountId: "acme", Name: "ci", Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_ZONE_READ}})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetToken().GetId()
	}
	revoked, kept := newToken(), newToken()
	mask := &fieldmaskpb.FieldMask{Paths: []string{"comment"}}
	tests := []struct {
		name  string
		call  func(id string) (proto.Message, error)
		other func(id string) (proto.Message, error) // another request under the same id
	}{
		{"create record",
			func(id string) (proto.Message, error) {
				return rc.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zid, RequestId: id, Record: &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.1", Ttl: 300}})
			},
			func(id string) (proto.Message, error) {
				return rc.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zid, RequestId: id, Record: &dnsv1.Record{Name: "www", Type: "A", Content: "192.0.2.2", Ttl: 300}})
			}},
		{"update record",
			func(id string) (proto.Message, error) {
				return rc.UpdateRecord(ctx, &dnsv1.UpdateRecordRequest{ZoneId: zid, RecordId: seedID, RequestId: id, Record: &dnsv1.Record{Name: "seed", Type: "A", Content: "192.0.2.10", Ttl: 300}})
			},
			func(id string) (proto.Message, error) {
				return rc.PatchRecord(ctx, &dnsv1.PatchRecordRequest{ZoneId: zid, RecordId: seedID, RequestId: id, Record: &dnsv1.Record{Comment: "x"}, UpdateMask: mask})
			}},
		{"patch record",
			func(id string) (proto.Message, error) {
				return rc.PatchRecord(ctx, &dnsv1.PatchRecordRequest{ZoneId: zid, RecordId: seedID, RequestId: id, Record: &dnsv1.Record{Comment: "patched"}, UpdateMask: mask})
			},
			func(id string) (proto.Message, error) {
				return rc.PatchRecord(ctx, &dnsv1.PatchRecordRequest{ZoneId: zid, RecordId: seedID, RequestId: id, Record: &dnsv1.Record{Comment: "other"}, UpdateMask: mask})
			}},
		{"batch records",
			func(id string) (proto.Message, error) {
				return rc.BatchRecords(ctx, &dnsv1.BatchRecordsRequest{ZoneId: zid, RequestId: id, Posts: []*dnsv1.Record{{Name: "b", Type: "TXT", Content: "one", Ttl: 300}}})
			},
			func(id string) (proto.Message, error) {
				return rc.BatchRecords(ctx, &dnsv1.BatchRecordsRequest{ZoneId: zid, RequestId: id, Posts: []*dnsv1.Record{{Name: "b", Type: "TXT", Content: "two", Ttl: 300}}})
			}},
		{"delete record",
			func(id string) (proto.Message, error) {
				return rc.DeleteRecord(ctx, &dnsv1.DeleteRecordRequest{ZoneId: zid, RecordId: seedID, RequestId: id})
			},
			func(id string) (proto.Message, error) {
				return rc.DeleteRecord(ctx, &dnsv1.DeleteRecordRequest{ZoneId: zid, RecordId: "0123456789abcdef", RequestId: id})
			}},
		{"create zone",
			func(id string) (proto.Message, error) {
				return zc.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "idem-a.com", RequestId: id})
			},
			func(id string) (proto.Message, error) {
				return zc.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "idem-b.com", RequestId: id})
			}},
		{"delete zone",
			func(id string) (proto.Message, error) {
				return zc.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: doomed.GetZone().GetId(), RequestId: id})
			},
			func(id string) (proto.Message, error) {
				return zc.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: zid, RequestId: id})
			}},
		{"update zone settings",
			func(id string) (proto.Message, error) {
				return sc.UpdateZoneSettings(ctx, &dnsv1.UpdateZoneSettingsRequest{ZoneId: zid, RequestId: id,
					Settings: &dnsv1.ZoneSettings{NsTtl: 3600}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ns_ttl"}}})
			},
			func(id string) (proto.Message, error) {
				return sc.UpdateZoneSettings(ctx, &dnsv1.UpdateZoneSettingsRequest{ZoneId: zid, RequestId: id,
					Settings: &dnsv1.ZoneSettings{NsTtl: 7200}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ns_ttl"}}})
			}},
		{"update account settings",
			func(id string) (proto.Message, error) {
				return sc.UpdateAccountSettings(ctx, &dnsv1.UpdateAccountSettingsRequest{AccountId: "acme", RequestId: id,
					Settings: &dnsv1.AccountSettings{EnforceDnsOnly: true}})
			},
			func(id string) (proto.Message, error) {
				return sc.UpdateAccountSettings(ctx, &dnsv1.UpdateAccountSettingsRequest{AccountId: "acme", RequestId: id,
					Settings: &dnsv1.AccountSettings{EnforceDnsOnly: false}})
			}},
		{"revoke token",
			func(id string) (proto.Message, error) {
				return tc.RevokeToken(ctx, &dnsv1.RevokeTokenRequest{TokenId: revoked, RequestId: id})
			},
			func(id string) (proto.Message, error) {
				return tc.RevokeToken(ctx, &dnsv1.RevokeTokenRequest{TokenId: kept, RequestId: id})
			}},
	}
	// CreateToken: the retry creates nothing and answers the same token,
	// without the secret, which is never stored.
	t.Run("create token", func(t *testing.T) {
		req := &dnsv1.CreateTokenRequest{AccountId: "acme", Name: "idem-token", RequestId: "req:create-token",
			Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_ZONE_READ}}
		first, err := tc.CreateToken(ctx, req)
		if err != nil || first.GetSecret() == "" || first.GetSecretWithheld() {
			t.Fatalf("first create: %v, %v", first, err)
		}
		before := revision()
		again, err := tc.CreateToken(ctx, req)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if again.GetToken().GetId() != first.GetToken().GetId() || again.GetSecret() != "" || !again.GetSecretWithheld() {
			t.Fatalf("retry answered %v; want token %s without its secret", again, first.GetToken().GetId())
		}
		if after := revision(); after != before {
			t.Fatalf("the retry wrote to etcd: revision %d → %d", before, after)
		}
		other := proto.Clone(req).(*dnsv1.CreateTokenRequest)
		other.Name = "another"
		if _, err := tc.CreateToken(ctx, other); grpcstatus.Code(err) != codes.InvalidArgument {
			t.Fatalf("another request under the id: %v, want InvalidArgument", err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "req:" + strings.ReplaceAll(tt.name, " ", "-")
			first, err := tt.call(id)
			if err != nil {
				t.Fatal(err)
			}
			before := revision()
			again, err := tt.call(id) // the first reply "lost": the client retries
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if !proto.Equal(first, again) {
				t.Fatalf("retry answered %v, first %v", again, first)
			}
			if after := revision(); after != before {
				t.Fatalf("retry changed etcd: revision %d → %d", before, after)
			}
			_, err = tt.other(id)
			if grpcstatus.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "request_id") {
				t.Fatalf("another request under the id: %v, want InvalidArgument naming request_id", err)
			}
			if after := revision(); after != before {
				t.Fatalf("refused request changed etcd: revision %d → %d", before, after)
			}
		})
	}

	t.Run("invalid request id", func(t *testing.T) {
		before := revision()
		for _, id := range []string{"a/b", strings.Repeat("x", 129), "sp ace", "é"} {
			_, err := rc.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zid, RequestId: id, Record: &dnsv1.Record{Name: "bad", Type: "A", Content: "192.0.2.3", Ttl: 300}})
			if grpcstatus.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "request_id") {
				t.Fatalf("request id %q: %v, want InvalidArgument naming request_id", id, err)
			}
		}
		if after := revision(); after != before {
			t.Fatalf("refused requests changed etcd: revision %d → %d", before, after)
		}
	})

	t.Run("concurrent retries apply once", func(t *testing.T) {
		const n = 8
		var wg sync.WaitGroup
		ids := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := rc.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zid, RequestId: "req:concurrent", Record: &dnsv1.Record{Name: "many", Type: "A", Content: "192.0.2.4", Ttl: 300}})
				ids[i], errs[i] = r.GetRecord().GetId(), err
			}()
		}
		wg.Wait()
		for i := range n {
			// Aborted is allowed: a retry that raced the first one's commit
			// and is told to retry.
			if errs[i] != nil && grpcstatus.Code(errs[i]) != codes.Aborted {
				t.Fatalf("call %d: %v", i, errs[i])
			}
			if errs[i] == nil && ids[i] != ids[0] && ids[0] != "" {
				t.Fatalf("calls answered different records %s and %s", ids[0], ids[i])
			}
		}
		list, err := rc.ListRecords(ctx, &dnsv1.ListRecordsRequest{ZoneId: zid, Name: "many"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.GetRecords()) != 1 {
			t.Fatalf("%d records created by one request id, want 1", len(list.GetRecords()))
		}
	})

}

// TestRequestIDsAreForgottenAfterRetention checks the wiring of the sweep:
// the control plane's sweeper deletes a remembered request id once the
// retention has passed, and the id may then be used again.
func TestRequestIDsAreForgottenAfterRetention(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := startServer(t, Config{DisableBuilder: true, IdempotencyRetention: time.Second})
	conn := operatorConn(t, s)
	zr, err := dnsv1.NewZoneServiceClient(conn).CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "forget.com"})
	if err != nil {
		t.Fatal(err)
	}
	rc := dnsv1.NewRecordServiceClient(conn)
	create := func(content string) error {
		_, err := rc.CreateRecord(ctx, &dnsv1.CreateRecordRequest{ZoneId: zr.GetZone().GetId(), RequestId: "once",
			Record: &dnsv1.Record{Name: "www", Type: "A", Content: content, Ttl: 300}})
		return err
	}
	if err := create("192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the request id swept", func() bool {
		resp, err := s.Store().Client().Get(ctx, s.Store().IdempotencyPrefix(), clientv3.WithPrefix(), clientv3.WithCountOnly())
		return err == nil && resp.Count == 0
	})
	if err := create("192.0.2.2"); err != nil {
		t.Fatalf("the id again after its retention: %v", err)
	}
}

// TestRequestIDsAcrossAccountsAndControlPlanes: request ids are scoped to
// the caller's account (two accounts may use the same id), concurrent
// retries of a zone creation apply once, and a retried DeleteZone that
// reaches another control plane (which cannot resolve the deleted zone's
// account any more) still gets the first response.
func TestRequestIDsAcrossAccountsAndControlPlanes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, emb := startServer(t, Config{DisableBuilder: true})
	op := operatorConn(t, s)
	tc := dnsv1.NewTokenServiceClient(op)
	tokenConn := func(acct string) *grpc.ClientConn {
		r, err := tc.CreateToken(ctx, &dnsv1.CreateTokenRequest{AccountId: acct, Name: "idem",
			Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_ZONE_WRITE, dnsv1.Permission_PERMISSION_DNS_WRITE}})
		if err != nil {
			t.Fatal(err)
		}
		return dialToken(t, s, r.GetSecret())
	}
	acme, other := dnsv1.NewZoneServiceClient(tokenConn("acme")), dnsv1.NewZoneServiceClient(tokenConn("other"))

	a, err := acme.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "scoped-a.com", RequestId: "same"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := other.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "other", Name: "scoped-b.com", RequestId: "same"})
	if err != nil {
		t.Fatalf("another account's request under the same id: %v", err)
	}
	if a.GetZone().GetId() == b.GetZone().GetId() {
		t.Fatal("two accounts' requests answered with one zone")
	}

	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := acme.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "acme", Name: "race.com", RequestId: "race"})
			ids[i], errs[i] = r.GetZone().GetId(), err
		}()
	}
	wg.Wait()
	created := ""
	for i := range n {
		switch {
		case errs[i] != nil && grpcstatus.Code(errs[i]) != codes.Aborted:
			t.Fatalf("call %d: %v", i, errs[i])
		case errs[i] == nil && created == "":
			created = ids[i]
		case errs[i] == nil && ids[i] != created:
			t.Fatalf("concurrent retries answered zones %s and %s", created, ids[i])
		}
	}

	// A second control plane on the same etcd, with an empty zone → account
	// cache.
	cfg := Config{DisableBuilder: true, GRPCAddr: "127.0.0.1:0", EtcdEndpoints: emb.EtcdEndpoints(), NATSURL: emb.NATSURL(),
		OperatorTokens: []string{testOperatorToken}}
	s2, err := New(ctx, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s2.Stop)
	del := &dnsv1.DeleteZoneRequest{ZoneId: created, RequestId: "delete-race"}
	first, err := acme.DeleteZone(ctx, del)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := tc.CreateToken(ctx, &dnsv1.CreateTokenRequest{AccountId: "acme", Name: "idem2", Permissions: []dnsv1.Permission{dnsv1.Permission_PERMISSION_ZONE_WRITE}})
	if err != nil {
		t.Fatal(err)
	}
	var again *dnsv1.DeleteZoneResponse
	waitUntil(t, "the second control plane to know the token", func() bool {
		again, err = dnsv1.NewZoneServiceClient(dialToken(t, s2, r2.GetSecret())).DeleteZone(ctx, del)
		return grpcstatus.Code(err) != codes.Unauthenticated
	})
	if err != nil || !proto.Equal(first, again) {
		t.Fatalf("retry on another control plane: %v, %v; want %v", again, err, first)
	}
	if _, err := acme.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: created}); grpcstatus.Code(err) != codes.NotFound {
		t.Fatalf("delete without a request id of the deleted zone: %v, want NotFound", err)
	}
}

// TestRememberedIDOpensNoOtherAccountsObject: a request id remembered for
// the caller's own DeleteZone lets a retry through authorization (its zone
// is gone), but the same id sent against another account's zone — or
// after it was forgotten — gets the NotFound of an invisible zone and
// changes nothing.
func TestRememberedIDOpensNoOtherAccountsObject(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := startAuthServer(t)
	fx := newMatrixFixture(t, s)
	evil := dnsv1.NewZoneServiceClient(dialToken(t, s, fx.tokens[pWrongAccount]))
	own, err := evil.CreateZone(ctx, &dnsv1.CreateZoneRequest{AccountId: "other", Name: "mine-to-delete.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evil.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: own.GetZone().GetId(), RequestId: "del-1"}); err != nil {
		t.Fatal(err)
	}
	before := revision(ctx, t, s)
	_, err = evil.DeleteZone(ctx, &dnsv1.DeleteZoneRequest{ZoneId: fx.z1, RequestId: "del-1"})
	if grpcstatus.Code(err) != codes.NotFound {
		t.Fatalf("another account's zone under a remembered id: %v, want NotFound", err)
	}
	if revision(ctx, t, s) != before {
		t.Fatal("the refused call wrote to etcd")
	}
	if _, err := dnsv1.NewZoneServiceClient(fx.op).GetZone(ctx, &dnsv1.GetZoneRequest{ZoneId: fx.z1}); err != nil {
		t.Fatalf("acme's zone: %v", err)
	}
}
