package auditlog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/auditlog"
	"github.com/zonegrid/zonegrid/services/servicetest"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fixture: the service over real gRPC on real etcd, with acct1 holding
// zones za and zb (two record writes each, by token tok1) and an account
// settings change made after mid; acct2 holding one zone.
type fixture struct {
	c   dnsv1.AuditServiceClient
	mid time.Time
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	st := store.New(etcdCli, etcdtest.Prefix(t), zaptest.NewLogger(t))
	ctx := caller.With(ctxT(t), &caller.Caller{TokenID: "tok1", AccountID: "acct1", RemoteAddr: "198.51.100.7:4242", Method: "/dns.v1.RecordService/CreateRecord"})
	zone := func(acct, id, name string) {
		_, err := st.CreateZone(ctxT(t), acct, name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
			return &dnsv1.Zone{Id: id, AccountId: acct, Name: name}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	zone("acct1", "za", "a.example.")
	zone("acct1", "zb", "b.example.")
	zone("acct2", "zc", "c.example.")
	for i := range 2 {
		for _, zid := range []string{"za", "zb"} {
			r := &dnsv1.Record{Id: fmt.Sprintf("%s-r%d", zid, i), Name: "www." + zid + ".example.", Type: "A", Content: "192.0.2.1", Ttl: 1}
			err := st.UpdateRecords(ctx, zid, func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
				return []store.RecordOp{{Put: r}}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	mid := time.Now()
	time.Sleep(2 * time.Millisecond)
	if _, err := st.UpdateAccountSettings(ctx, "acct1", func(c *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) {
		c.EnforceDnsOnly = true
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	conn := servicetest.Serve(t, func(gs *grpc.Server) {
		dnsv1.RegisterAuditServiceServer(gs, auditlog.New(st, zaptest.NewLogger(t)))
	})
	return fixture{c: dnsv1.NewAuditServiceClient(conn), mid: mid}
}

func TestListAuditLogsRejectsBadFields(t *testing.T) {
	f := newFixture(t)
	now := timestamppb.Now()
	tests := []struct {
		name  string
		req   *dnsv1.ListAuditLogsRequest
		field string
	}{
		{"account required", &dnsv1.ListAuditLogsRequest{}, "account_id"},
		{"account syntax", &dnsv1.ListAuditLogsRequest{AccountId: "a/b"}, "account_id"},
		{"account too long", &dnsv1.ListAuditLogsRequest{AccountId: string(make([]byte, 65))}, "account_id"},
		{"zone syntax", &dnsv1.ListAuditLogsRequest{AccountId: "acct1", ZoneId: "../x"}, "zone_id"},
		{"negative page size", &dnsv1.ListAuditLogsRequest{AccountId: "acct1", PageSize: -1}, "page_size"},
		{"invalid since", &dnsv1.ListAuditLogsRequest{AccountId: "acct1", Since: &timestamppb.Timestamp{Nanos: -1}}, "since"},
		{"invalid until", &dnsv1.ListAuditLogsRequest{AccountId: "acct1", Until: &timestamppb.Timestamp{Seconds: 1 << 40}}, "until"},
		{"until before since", &dnsv1.ListAuditLogsRequest{AccountId: "acct1", Since: now, Until: timestamppb.New(now.AsTime().Add(-time.Second))}, "until"},
		{"foreign page token", &dnsv1.ListAuditLogsRequest{AccountId: "acct1", PageToken: "bm90LW91cnM"}, "page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.c.ListAuditLogs(ctxT(t), tt.req)
			if code, field := servicetest.Violation(err); code != codes.InvalidArgument || field != tt.field {
				t.Fatalf("err = %v, want InvalidArgument naming %s", err, tt.field)
			}
		})
	}
}

func TestListAuditLogsByAccountZoneAndTime(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		req      *dnsv1.ListAuditLogsRequest
		pageSize int32
		want     int
	}{
		{"account", &dnsv1.ListAuditLogsRequest{AccountId: "acct1"}, 0, 2 + 4 + 1},
		{"account in pages of 2", &dnsv1.ListAuditLogsRequest{AccountId: "acct1"}, 2, 7},
		{"page size above the maximum", &dnsv1.ListAuditLogsRequest{AccountId: "acct1"}, 5000, 7},
		{"zone", &dnsv1.ListAuditLogsRequest{AccountId: "acct1", ZoneId: "za"}, 1, 1 + 2},
		{"another account's zone", &dnsv1.ListAuditLogsRequest{AccountId: "acct2", ZoneId: "za"}, 0, 0},
		{"since", &dnsv1.ListAuditLogsRequest{AccountId: "acct1", Since: timestamppb.New(f.mid)}, 0, 1},
		{"until", &dnsv1.ListAuditLogsRequest{AccountId: "acct1", Until: timestamppb.New(f.mid)}, 0, 6},
		{"unknown account", &dnsv1.ListAuditLogsRequest{AccountId: "nobody"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.PageSize = tt.pageSize
			var got []*dnsv1.AuditLog
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("pagination does not end")
				}
				resp, err := f.c.ListAuditLogs(ctxT(t), req)
				if err != nil {
					t.Fatal(err)
				}
				if tt.pageSize > 0 && len(resp.GetEntries()) > int(tt.pageSize) {
					t.Fatalf("page of %d entries > page size %d", len(resp.GetEntries()), tt.pageSize)
				}
				got = append(got, resp.GetEntries()...)
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			if len(got) != tt.want {
				t.Fatalf("listed %d entries, want %d", len(got), tt.want)
			}
			for i, e := range got {
				if i > 0 && e.GetTime().AsTime().Before(got[i-1].GetTime().AsTime()) {
					t.Fatalf("entry %d older than entry %d: not oldest first", i, i-1)
				}
				if z := tt.req.GetZoneId(); z != "" && e.GetZoneId() != z {
					t.Fatalf("entry of zone %q listed for zone %s", e.GetZoneId(), z)
				}
			}
		})
	}
}

// TestListedEntryCarriesActorAndObjects: an entry arrives with its actor,
// action and the changed object, decodable from its Any.
func TestListedEntryCarriesActorAndObjects(t *testing.T) {
	f := newFixture(t)
	resp, err := f.c.ListAuditLogs(ctxT(t), &dnsv1.ListAuditLogsRequest{AccountId: "acct1", Since: timestamppb.New(f.mid)})
	if err != nil || len(resp.GetEntries()) != 1 {
		t.Fatalf("entries %v, %v; want the settings change", resp.GetEntries(), err)
	}
	e := resp.GetEntries()[0]
	if a := e.GetActor(); a.GetTokenId() != "tok1" || a.GetAccountId() != "acct1" || a.GetRemoteAddr() != "198.51.100.7:4242" {
		t.Errorf("actor %v", a)
	}
	if e.GetAction() != "/dns.v1.RecordService/CreateRecord" {
		t.Errorf("action %q", e.GetAction())
	}
	after := &dnsv1.AccountSettings{}
	if c := e.GetChanges(); len(c) != 1 || c[0].GetResourceType() != "account_settings" || c[0].GetAfter().UnmarshalTo(after) != nil || !after.GetEnforceDnsOnly() {
		t.Errorf("changes %v", e.GetChanges())
	}
}
