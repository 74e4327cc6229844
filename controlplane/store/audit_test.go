package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/zonegrid/zonegrid/controlplane/caller"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// asCaller is ctx carrying a token of acct, as the authorization
// interceptor puts it there.
func asCaller(ctx context.Context, token, acct string) context.Context {
	return caller.With(ctx, &caller.Caller{
		TokenID: token, AccountID: acct, RemoteAddr: "198.51.100.7:4242",
		Method: "/dns.v1.Test/" + token,
	})
}

// auditOf lists every entry of the account (page size 1000).
func auditOf(t *testing.T, s *store.Store, f store.AuditFilter) []*dnsv1.AuditLog {
	t.Helper()
	var out []*dnsv1.AuditLog
	tok := ""
	for range 100 {
		es, next, err := s.ListAuditLogs(ctxT(t), f, 1000, tok)
		if err != nil {
			t.Fatalf("list audit %+v: %v", f, err)
		}
		out = append(out, es...)
		if next == "" {
			return out
		}
		tok = next
	}
	t.Fatal("audit listing does not end")
	return nil
}

// byToken keeps the entries whose actor is token.
func byToken(es []*dnsv1.AuditLog, token string) []*dnsv1.AuditLog {
	var out []*dnsv1.AuditLog
	for _, e := range es {
		if e.GetActor().GetTokenId() == token {
			out = append(out, e)
		}
	}
	return out
}

// change is what a test expects of one AuditChange: the resource and the
// objects before and after (nil: absent), compared as protobuf.
type change struct {
	typ, id       string
	before, after proto.Message
}

func checkChanges(t *testing.T, e *dnsv1.AuditLog, want []change) {
	t.Helper()
	if len(e.GetChanges()) != len(want) {
		t.Fatalf("entry has %d changes, want %d: %v", len(e.GetChanges()), len(want), e.GetChanges())
	}
	for i, w := range want {
		c := e.GetChanges()[i]
		if c.GetResourceType() != w.typ || c.GetResourceId() != w.id {
			t.Errorf("change %d is %s %s, want %s %s", i, c.GetResourceType(), c.GetResourceId(), w.typ, w.id)
		}
		for _, side := range []struct {
			name string
			got  interface {
				UnmarshalNew() (proto.Message, error)
			}
			isSet bool
			want  proto.Message
		}{
			{"before", c.GetBefore(), c.GetBefore() != nil, w.before},
			{"after", c.GetAfter(), c.GetAfter() != nil, w.after},
		} {
			if side.want == nil {
				if side.isSet {
					t.Errorf("change %d (%s %s): %s is set, want unset", i, w.typ, w.id, side.name)
				}
				continue
			}
			if !side.isSet {
				t.Errorf("change %d (%s %s): %s unset, want %v", i, w.typ, w.id, side.name, side.want)
				continue
			}
			got, err := side.got.UnmarshalNew()
			if err != nil {
				t.Fatalf("change %d %s: %v", i, side.name, err)
			}
			if !proto.Equal(got, side.want) {
				t.Errorf("change %d (%s %s) %s = %v, want %v", i, w.typ, w.id, side.name, got, side.want)
			}
		}
	}
}

func withZone(r *dnsv1.Record, zid string) *dnsv1.Record {
	c := proto.Clone(r).(*dnsv1.Record)
	c.ZoneId = zid
	return c
}

// TestEveryWritePathWritesOneAuditEntry: each kind of change writes exactly
// one entry, with the caller's token, account, address and method, in the
// account (and zone) of the changed object, holding the objects before and
// after.
func TestEveryWritePathWritesOneAuditEntry(t *testing.T) {
	r1 := rec("r1", "www.example.com.", "A", "192.0.2.1")
	r2 := rec("r2", "mail.example.com.", "A", "192.0.2.2")
	r1moved := rec("r1", "web.example.com.", "A", "192.0.2.9")
	tests := []struct {
		name string
		// do makes the change as ctx's caller and returns the changes the
		// entry must hold; z already holds r1 and r2.
		do func(ctx context.Context, t *testing.T, s *store.Store, z *dnsv1.Zone) []change
		// zone is the zone id the entry names, given the setup's zone.
		zone func(z *dnsv1.Zone) string
	}{
		{"create zone", func(ctx context.Context, t *testing.T, s *store.Store, _ *dnsv1.Zone) []change {
			nz := &dnsv1.Zone{Id: "znew", AccountId: "acct1", Name: "new.example.", NameServers: []string{"a.ns.", "b.ns."}}
			if _, err := s.CreateZone(ctx, "acct1", "new.example.", func(store.ZoneCreation) (*dnsv1.Zone, error) { return nz, nil }); err != nil {
				t.Fatal(err)
			}
			return []change{{"zone", "znew", nil, nz}}
		}, func(*dnsv1.Zone) string { return "znew" }},
		{"purge zone summarizes its records", func(ctx context.Context, t *testing.T, s *store.Store, z *dnsv1.Zone) []change {
			if _, err := s.PurgeZone(ctx, z.GetId()); err != nil {
				t.Fatal(err)
			}
			purged := proto.Clone(z).(*dnsv1.Zone)
			purged.Status = dnsv1.ZoneStatus_ZONE_STATUS_PURGED
			return []change{{"zone", z.GetId(), z, purged}, {"records", z.GetId(), wrapperspb.Int64(2), nil}}
		}, (*dnsv1.Zone).GetId},
		{"activate zone", func(ctx context.Context, t *testing.T, s *store.Store, z *dnsv1.Zone) []change {
			after, err := s.ActivateZone(ctx, z.GetId(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return []change{{"zone", z.GetId(), z, after}}
		}, (*dnsv1.Zone).GetId},
		{"update account settings", func(ctx context.Context, t *testing.T, s *store.Store, _ *dnsv1.Zone) []change {
			after, err := s.UpdateAccountSettings(ctx, "acct1", func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) {
				cur.EnforceDnsOnly = true
				return cur, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return []change{{"account_settings", "acct1", &dnsv1.AccountSettings{}, after}}
		}, func(*dnsv1.Zone) string { return "" }},
		{"update zone settings", func(ctx context.Context, t *testing.T, s *store.Store, z *dnsv1.Zone) []change {
			after, err := s.UpdateZoneSettings(ctx, z.GetId(), func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
				cur.NsTtl = 3600
				return cur, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return []change{{"zone_settings", z.GetId(), &dnsv1.ZoneSettings{}, after}}
		}, (*dnsv1.Zone).GetId},
		{"grouped record write: create", func(ctx context.Context, t *testing.T, s *store.Store, z *dnsv1.Zone) []change {
			r3 := rec("r3", "ftp.example.com.", "A", "192.0.2.3")
			if err := s.UpdateRecords(ctx, z.GetId(), put(r3)); err != nil {
				t.Fatal(err)
			}
			return []change{{"record", "r3", nil, withZone(r3, z.GetId())}}
		}, (*dnsv1.Zone).GetId},
		{"grouped record write: rename and delete", func(ctx context.Context, t *testing.T, s *store.Store, z *dnsv1.Zone) []change {
			err := s.UpdateRecords(ctx, z.GetId(), func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
				return []store.RecordOp{{Put: r1moved}, {DeleteID: "r2"}}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return []change{
				{"record", "r1", withZone(r1, z.GetId()), withZone(r1moved, z.GetId())},
				{"record", "r2", withZone(r2, z.GetId()), nil},
			}
		}, (*dnsv1.Zone).GetId},
		{"direct record write (from inside a callback)", func(ctx context.Context, t *testing.T, s *store.Store, z *dnsv1.Zone) []change {
			err := s.UpdateRecords(ctx, z.GetId(), func(ctx context.Context, _ store.ZoneView) ([]store.RecordOp, error) {
				// Runs through updateDirect; the outer write changes nothing.
				return nil, s.UpdateRecords(ctx, z.GetId(), func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
					return []store.RecordOp{{Put: r1moved}, {DeleteID: "r2"}}, nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			return []change{
				{"record", "r1", withZone(r1, z.GetId()), withZone(r1moved, z.GetId())},
				{"record", "r2", withZone(r2, z.GetId()), nil},
			}
		}, (*dnsv1.Zone).GetId},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			z := createZone(t, s, "acct1", "example.com.")
			if err := s.UpdateRecords(ctxT(t), z.GetId(), put(r1, r2)); err != nil {
				t.Fatal(err)
			}
			want := tt.do(asCaller(ctxT(t), "tok1", "acct1"), t, s, z)
			es := byToken(auditOf(t, s, store.AuditFilter{AccountID: "acct1"}), "tok1")
			if len(es) != 1 {
				t.Fatalf("%d entries by tok1, want 1: %v", len(es), es)
			}
			e := es[0]
			if a := e.GetActor(); a.GetAccountId() != "acct1" || a.GetRemoteAddr() != "198.51.100.7:4242" || e.GetAction() != "/dns.v1.Test/tok1" {
				t.Errorf("actor %v, action %q", a, e.GetAction())
			}
			if e.GetAccountId() != "acct1" || e.GetId() == "" || e.GetTime().AsTime().IsZero() {
				t.Errorf("entry header %v", e)
			}
			if want := tt.zone(z); e.GetZoneId() != want {
				t.Errorf("entry zone %q, want %q", e.GetZoneId(), want)
			}
			checkChanges(t, e, want)
			// The setup's writes were made without a caller.
			for _, e := range auditOf(t, s, store.AuditFilter{AccountID: "acct1"}) {
				if tok := e.GetActor().GetTokenId(); tok != "tok1" && (tok != store.AuditInternal || !strings.HasPrefix(e.GetAction(), "internal/")) {
					t.Errorf("entry without caller: actor %v action %q", e.GetActor(), e.GetAction())
				}
			}
		})
	}
}

// TestFailedWritesWriteNoAuditEntry: a write refused by validation, by
// its callback or by a lost race changes nothing, its audit log included.
func TestFailedWritesWriteNoAuditEntry(t *testing.T) {
	refused := errors.New("refused")
	tests := []struct {
		name string
		do   func(ctx context.Context, s *store.Store, z *dnsv1.Zone) error
	}{
		{"zone name taken", func(ctx context.Context, s *store.Store, _ *dnsv1.Zone) error {
			_, err := s.CreateZone(ctx, "acct1", "example.com.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
				return &dnsv1.Zone{Id: "dup", AccountId: "acct1", Name: "example.com."}, nil
			})
			return err
		}},
		{"zone build refused", func(ctx context.Context, s *store.Store, _ *dnsv1.Zone) error {
			_, err := s.CreateZone(ctx, "acct1", "other.example.", func(store.ZoneCreation) (*dnsv1.Zone, error) { return nil, refused })
			return err
		}},
		{"delete of a missing zone", func(ctx context.Context, s *store.Store, _ *dnsv1.Zone) error {
			_, err := s.PurgeZone(ctx, "missing")
			return err
		}},
		{"zone group update refused", func(ctx context.Context, s *store.Store, z *dnsv1.Zone) error {
			_, err := s.UpdateZoneGroup(ctx, "test", z.GetId(), func(*dnsv1.Zone, []*dnsv1.Zone) ([]*dnsv1.Zone, error) { return nil, refused })
			return err
		}},
		{"account settings refused", func(ctx context.Context, s *store.Store, _ *dnsv1.Zone) error {
			_, err := s.UpdateAccountSettings(ctx, "acct1", func(*dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) { return nil, refused })
			return err
		}},
		{"account settings conflict on every attempt", func(ctx context.Context, s *store.Store, _ *dnsv1.Zone) error {
			key := s.DataPrefix() + "accounts/acct1/settings"
			_, err := s.UpdateAccountSettings(ctx, "acct1", func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) {
				// Another writer changes the settings after every read.
				if _, err := etcdCli.Put(ctx, key, ""); err != nil {
					return nil, err
				}
				return cur, nil
			})
			if !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("err = %v, want ErrConflict", err)
			}
			return err
		}},
		{"zone settings refused", func(ctx context.Context, s *store.Store, z *dnsv1.Zone) error {
			_, err := s.UpdateZoneSettings(ctx, z.GetId(), func(*dnsv1.Zone, *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) { return nil, refused })
			return err
		}},
		{"record callback refused", func(ctx context.Context, s *store.Store, z *dnsv1.Zone) error {
			return s.UpdateRecords(ctx, z.GetId(), func(context.Context, store.ZoneView) ([]store.RecordOp, error) { return nil, refused })
		}},
		{"record delete of a missing record", func(ctx context.Context, s *store.Store, z *dnsv1.Zone) error {
			return s.UpdateRecords(ctx, z.GetId(), func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
				return []store.RecordOp{{Put: rec("ok", "ok.example.com.", "A", "192.0.2.1")}, {DeleteID: "missing"}}, nil
			})
		}},
		{"direct record write of an unnormalized name", func(ctx context.Context, s *store.Store, z *dnsv1.Zone) error {
			err := s.UpdateRecords(ctx, z.GetId(), func(ctx context.Context, _ store.ZoneView) ([]store.RecordOp, error) {
				return nil, s.UpdateRecords(ctx, z.GetId(), put(rec("bad", "WWW.Example.com", "A", "192.0.2.1")))
			})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			z := createZone(t, s, "acct1", "example.com.")
			before := len(auditOf(t, s, store.AuditFilter{AccountID: "acct1"}))
			if err := tt.do(asCaller(ctxT(t), "tok1", "acct1"), s, z); err == nil {
				t.Fatal("the write succeeded, want a failure")
			}
			es := auditOf(t, s, store.AuditFilter{AccountID: "acct1"})
			if len(es) != before || len(byToken(es, "tok1")) != 0 {
				t.Fatalf("%d entries after the failed write (%d before): %v", len(es), before, byToken(es, "tok1"))
			}
		})
	}
}

// TestRetriedWriteWritesOneAuditEntry: a write that lost a race and was
// applied again leaves one entry, holding the state it finally replaced.
func TestRetriedWriteWritesOneAuditEntry(t *testing.T) {
	s := newStore(t)
	ctx := asCaller(ctxT(t), "tok1", "acct1")
	other := &dnsv1.AccountSettings{EnforceDnsOnly: true}
	raced := false
	_, err := s.UpdateAccountSettings(ctx, "acct1", func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) {
		if !raced {
			raced = true
			if _, err := s.UpdateAccountSettings(ctxT(t), "acct1", func(*dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) { return other, nil }); err != nil {
				return nil, err
			}
		}
		return &dnsv1.AccountSettings{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	es := byToken(auditOf(t, s, store.AuditFilter{AccountID: "acct1"}), "tok1")
	if len(es) != 1 {
		t.Fatalf("%d entries, want 1", len(es))
	}
	checkChanges(t, es[0], []change{{"account_settings", "acct1", other, &dnsv1.AccountSettings{}}})
}

// TestActivationLogsTheMovedZoneInItsOwnAccount: activating a zone that
// moves another account's zone writes an entry in each account; the other
// account does not learn who did it.
func TestActivationLogsTheMovedZoneInItsOwnAccount(t *testing.T) {
	s := newStore(t)
	old := createZone(t, s, "acct2", "example.com.")
	if _, err := s.ActivateZone(ctxT(t), old.GetId(), time.Now()); err != nil {
		t.Fatal(err)
	}
	z := createZone(t, s, "acct1", "example.com.")
	if _, err := s.ActivateZone(asCaller(ctxT(t), "tok1", "acct1"), z.GetId(), time.Now()); err != nil {
		t.Fatal(err)
	}
	own := byToken(auditOf(t, s, store.AuditFilter{AccountID: "acct1"}), "tok1")
	if len(own) != 1 || len(own[0].GetChanges()) != 1 || own[0].GetChanges()[0].GetResourceId() != z.GetId() {
		t.Fatalf("acct1 entries %v, want one holding its zone only", own)
	}
	moved := byToken(auditOf(t, s, store.AuditFilter{AccountID: "acct2"}), store.AuditOtherAccount)
	if len(moved) != 1 {
		t.Fatalf("acct2 entries by another account: %v, want 1", moved)
	}
	e := moved[0]
	if a := e.GetActor(); a.GetAccountId() != "" || a.GetRemoteAddr() != "" || e.GetZoneId() != old.GetId() {
		t.Errorf("acct2 sees actor %v zone %s", a, e.GetZoneId())
	}
	after := &dnsv1.Zone{}
	if err := e.GetChanges()[0].GetAfter().UnmarshalTo(after); err != nil || after.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_MOVED {
		t.Errorf("moved zone after = %v, %v", after, err)
	}
}

// TestGroupedWritesGetOneAuditEntryEach: writes committed in one group
// transaction get one entry each, with their own caller, and a write sees
// as "before" what the earlier writes of its group left; a batch is one
// write and one entry however many records it holds.
func TestGroupedWritesGetOneAuditEntryEach(t *testing.T) {
	s, reg := newStoreWith(t, store.Config{})
	ctx := ctxT(t)
	z := createZone(t, s, "acct1", "example.com.")
	zid := z.GetId()

	release := make(chan struct{})
	blocked := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		once := sync.Once{}
		first <- s.UpdateRecords(asCaller(ctx, "tok0", "acct1"), zid, func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
			once.Do(func() { close(blocked); <-release })
			return []store.RecordOp{{Put: rec("r0", "zero.example.com.", "A", "192.0.2.1")}}, nil
		})
	}()
	<-blocked

	a1 := rec("a1", "a.example.com.", "A", "192.0.2.1")
	a1v2 := rec("a1", "a.example.com.", "A", "192.0.2.2")
	batch := make([]*dnsv1.Record, 3500)
	for i := range batch {
		batch[i] = rec(fmt.Sprintf("b%04d", i), fmt.Sprintf("h%d.bulk.example.com.", i), "A", "192.0.2.3")
	}
	writes := []struct {
		token string
		fn    func(context.Context, store.ZoneView) ([]store.RecordOp, error)
		ok    bool
	}{
		{"tok1", put(a1), true},
		{"tok2", func(context.Context, store.ZoneView) ([]store.RecordOp, error) { return nil, errors.New("refused") }, false},
		{"tok3", put(a1v2), true},
		{"tok4", put(batch...), true},
	}
	results := make([]chan error, len(writes))
	for i, w := range writes {
		results[i] = make(chan error, 1)
		go func() { results[i] <- s.UpdateRecords(asCaller(ctx, w.token, "acct1"), zid, w.fn) }()
		waitQueued(t, reg, i+1)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, w := range writes {
		if err := <-results[i]; (err == nil) != w.ok {
			t.Errorf("write of %s: err = %v", w.token, err)
		}
	}
	if _, count, sum := sample(t, reg, "zonegrid_store_record_group_writes"); count != 2 || sum != 4 {
		t.Fatalf("groups committed = %d holding %v writes, want 2 holding 4", count, sum)
	}
	es := auditOf(t, s, store.AuditFilter{AccountID: "acct1", ZoneID: zid})
	for _, tc := range []struct {
		token string
		want  []change
	}{
		{"tok0", []change{{"record", "r0", nil, withZone(rec("r0", "zero.example.com.", "A", "192.0.2.1"), zid)}}},
		{"tok1", []change{{"record", "a1", nil, withZone(a1, zid)}}},
		{"tok3", []change{{"record", "a1", withZone(a1, zid), withZone(a1v2, zid)}}},
	} {
		got := byToken(es, tc.token)
		if len(got) != 1 {
			t.Fatalf("%d entries of %s, want 1", len(got), tc.token)
		}
		checkChanges(t, got[0], tc.want)
	}
	if got := byToken(es, "tok2"); len(got) != 0 {
		t.Errorf("refused write has entries %v", got)
	}
	if got := byToken(es, "tok4"); len(got) != 1 || len(got[0].GetChanges()) != len(batch) {
		t.Errorf("batch: %d entries, want 1 with %d changes", len(got), len(batch))
	}
}

// TestListAuditLogsFilters lists by account, zone and time range, in
// pages, oldest first.
func TestListAuditLogsFilters(t *testing.T) {
	s := newStore(t)
	za := createZone(t, s, "acct1", "a.example.")
	zb := createZone(t, s, "acct1", "b.example.")
	createZone(t, s, "acct2", "c.example.")
	write := func(z *dnsv1.Zone, i int) {
		t.Helper()
		if err := s.UpdateRecords(ctxT(t), z.GetId(), put(rec(fmt.Sprintf("r%d", i), "www."+z.GetName(), "A", fmt.Sprintf("192.0.2.%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		write(za, i)
		write(zb, i)
	}
	mid := time.Now()
	time.Sleep(2 * time.Millisecond)
	for i := 3; i < 6; i++ {
		write(za, i)
	}
	if _, err := s.UpdateAccountSettings(ctxT(t), "acct1", func(c *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) { return c, nil }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter store.AuditFilter
		want   int
	}{
		{"account", store.AuditFilter{AccountID: "acct1"}, 2 + 6 + 3 + 1},
		{"other account", store.AuditFilter{AccountID: "acct2"}, 1},
		{"zone", store.AuditFilter{AccountID: "acct1", ZoneID: za.GetId()}, 1 + 6},
		{"zone of another account", store.AuditFilter{AccountID: "acct2", ZoneID: za.GetId()}, 0},
		{"since", store.AuditFilter{AccountID: "acct1", Since: mid}, 3 + 1},
		{"until", store.AuditFilter{AccountID: "acct1", Until: mid}, 2 + 6},
		{"zone and since", store.AuditFilter{AccountID: "acct1", ZoneID: za.GetId(), Since: mid}, 3},
		{"zone and until", store.AuditFilter{AccountID: "acct1", ZoneID: zb.GetId(), Until: mid}, 1 + 3},
		{"empty range", store.AuditFilter{AccountID: "acct1", Since: mid, Until: mid}, 0},
		{"unknown account", store.AuditFilter{AccountID: "nobody"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			var last time.Time
			tok := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("pagination does not end")
				}
				es, next, err := s.ListAuditLogs(ctxT(t), tt.filter, 2, tok)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) > 2 {
					t.Fatalf("page of %d > page size 2", len(es))
				}
				for _, e := range es {
					if seen[e.GetId()] {
						t.Fatalf("entry %s listed twice", e.GetId())
					}
					seen[e.GetId()] = true
					if e.GetTime().AsTime().Before(last) {
						t.Fatalf("entry %s older than the one before", e.GetId())
					}
					last = e.GetTime().AsTime()
					if tt.filter.ZoneID != "" && e.GetZoneId() != tt.filter.ZoneID {
						t.Fatalf("entry of zone %q in a listing of %s", e.GetZoneId(), tt.filter.ZoneID)
					}
				}
				if next == "" {
					break
				}
				tok = next
			}
			if len(seen) != tt.want {
				t.Fatalf("listed %d entries, want %d", len(seen), tt.want)
			}
		})
	}
	_, tok, err := s.ListAuditLogs(ctxT(t), store.AuditFilter{AccountID: "acct1"}, 1, "")
	if err != nil || tok == "" {
		t.Fatalf("first page: token %q, %v", tok, err)
	}
	if _, _, err := s.ListAuditLogs(ctxT(t), store.AuditFilter{AccountID: "acct2"}, 1, tok); !errors.Is(err, store.ErrBadPageToken) {
		t.Fatalf("another account's token: err = %v, want ErrBadPageToken", err)
	}
}

// TestAuditRetention: entries past the retention are hidden at once and
// deleted by SweepAudit, with their due markers; younger entries stay.
func TestAuditRetention(t *testing.T) {
	const retention = 300 * time.Millisecond
	s, _ := newStoreWith(t, store.Config{AuditRetention: retention})
	ctx := ctxT(t)
	for i := range 3 {
		createZone(t, s, fmt.Sprintf("acct%d", i), "example.com.")
	}
	time.Sleep(retention + 50*time.Millisecond)
	if es := auditOf(t, s, store.AuditFilter{AccountID: "acct0"}); len(es) != 0 {
		t.Fatalf("entries past retention listed: %v", es)
	}
	young := createZone(t, s, "acct0", "young.example.")

	// The old entries' bucket (a sixteenth of the retention) has ended.
	n, err := s.SweepAudit(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("swept %d entries, want 3", n)
	}
	resp, err := etcdCli.Get(ctx, s.AuditPrefix(), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var log, due int
	for _, kv := range resp.Kvs {
		switch k := string(kv.Key); {
		case strings.Contains(k, "/audit/log/acct0/") && strings.HasSuffix(k, "/"+young.GetId()):
			log++
		case strings.Contains(k, "/audit/due/") && strings.HasSuffix(k, "/acct0"):
			due++
		default:
			t.Errorf("key left after the sweep: %s", k)
		}
	}
	if log != 1 || due != 1 {
		t.Fatalf("young entry keys: %d entries, %d due markers; want 1 and 1", log, due)
	}
	if n, err := s.SweepAudit(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("second sweep: %d, %v; want 0", n, err)
	}
}

// TestAuditWritesDoNotWakeTheBuilder: the builder watches DataPrefix; a
// change's audit entry is outside it, so the watch sees only the change.
func TestAuditWritesDoNotWakeTheBuilder(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	if strings.HasPrefix(s.AuditPrefix(), s.DataPrefix()) {
		t.Fatalf("audit prefix %s is under the data prefix %s", s.AuditPrefix(), s.DataPrefix())
	}
	rev, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAccountSettings(ctx, "acct1", func(c *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) { return c, nil }); err != nil {
		t.Fatal(err)
	}
	if es := auditOf(t, s, store.AuditFilter{AccountID: "acct1"}); len(es) != 1 {
		t.Fatalf("%d entries, want 1", len(es))
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := etcdCli.Watch(wctx, s.DataPrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	select {
	case wr := <-wch:
		for _, ev := range wr.Events {
			if k := string(ev.Kv.Key); k != s.DataPrefix()+"accounts/acct1/settings" {
				t.Errorf("builder's watch saw %s", k)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event for the settings change")
	}
}

// TestTokenChangesAreAuditedWithoutTheirHash: creating and revoking a
// token write one entry each, holding the token but never its hash.
func TestTokenChangesAreAuditedWithoutTheirHash(t *testing.T) {
	s := newStore(t)
	ctx := asCaller(ctxT(t), "tok1", "acct1")
	tok := &dnsv1.Token{Id: "tnew", AccountId: "acct1", Name: "ci"}
	var hash [store.TokenHashSize]byte
	copy(hash[:], "0123456789abcdef0123456789abcdef")
	if err := s.CreateToken(ctx, store.StoredToken{Token: tok, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeToken(ctx, "tnew"); err != nil {
		t.Fatal(err)
	}
	es := byToken(auditOf(t, s, store.AuditFilter{AccountID: "acct1"}), "tok1")
	if len(es) != 2 {
		t.Fatalf("%d entries, want 2 (create, revoke)", len(es))
	}
	checkChanges(t, es[0], []change{{"token", "tnew", nil, tok}})
	checkChanges(t, es[1], []change{{"token", "tnew", tok, nil}})
	resp, err := etcdCli.Get(ctxT(t), s.AuditPrefix(), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Value), string(hash[:])) {
			t.Fatalf("audit key %s holds the token hash", kv.Key)
		}
	}
}
