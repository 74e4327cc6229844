package store_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/embedded/etcdtest"
	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

var etcdCli *clientv3.Client

// TestMain starts one real embedded etcd for the package.
func TestMain(m *testing.M) { etcdtest.Run(m, &etcdCli) }

func newStore(t *testing.T) *store.Store {
	t.Helper()
	return store.New(etcdCli, etcdtest.Prefix(t), zaptest.NewLogger(t))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var zoneSeq atomic.Int64

func createZone(t *testing.T, s *store.Store, acct, name string) *dnsv1.Zone {
	t.Helper()
	z, err := s.CreateZone(ctxT(t), acct, name, func(c store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{
			Id: fmt.Sprintf("z%030d", zoneSeq.Add(1)), AccountId: acct, Name: name,
			Status: dnsv1.ZoneStatus_ZONE_STATUS_PENDING, NameServers: []string{"a.ns.", "b.ns."},
			CreatedOn: timestamppb.Now(),
		}, nil
	})
	if err != nil {
		t.Fatalf("create zone %s/%s: %v", acct, name, err)
	}
	return z
}

func TestCreateZoneEnforcesNamePerAccount(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	first := createZone(t, s, "acct1", "example.com.")

	_, err := s.CreateZone(ctx, "acct1", "example.com.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
		t.Fatal("build must not run for a duplicate")
		return nil, nil
	})
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("duplicate in same account: err = %v, want ErrAlreadyExists", err)
	}

	var seen store.ZoneCreation
	_, err = s.CreateZone(ctx, "acct2", "example.com.", func(c store.ZoneCreation) (*dnsv1.Zone, error) {
		seen = c
		return &dnsv1.Zone{Id: "other000", AccountId: "acct2", Name: "example.com.", NameServers: []string{"c.ns.", "d.ns."}}, nil
	})
	if err != nil {
		t.Fatalf("same name in another account: %v", err)
	}
	if len(seen.SameName) != 1 || seen.SameName[0].GetId() != first.GetId() {
		t.Fatalf("SameName = %v, want the first zone", seen.SameName)
	}
	if seen.PreferredNameservers != nil {
		t.Fatalf("new account has preferred NS %v", seen.PreferredNameservers)
	}
	ns, err := s.AccountNameservers(ctx, "acct2")
	if err != nil || strings.Join(ns, ",") != "c.ns.,d.ns." {
		t.Fatalf("account NS = %v, %v; want the first zone's pair", ns, err)
	}

	_, err = s.CreateZone(ctx, "acct1", "sub.example.com.", func(c store.ZoneCreation) (*dnsv1.Zone, error) {
		seen = c
		return &dnsv1.Zone{Id: "sub00000", AccountId: "acct1", Name: "sub.example.com."}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen.Related) != 2 || strings.Join(seen.PreferredNameservers, ",") != "a.ns.,b.ns." {
		t.Fatalf("creation view = %+v, want 2 related ancestor zones and acct1's NS", seen)
	}
	got, err := s.GetZone(ctx, first.GetId())
	if err != nil || got.GetName() != "example.com." {
		t.Fatalf("GetZone = %v, %v", got, err)
	}
	if _, err := s.GetZone(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetZone(missing) err = %v", err)
	}
	if _, err := s.GetZone(ctx, "../x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetZone(bad id) err = %v", err)
	}
}

func TestListZonesPaginates(t *testing.T) {
	s := newStore(t)
	for i := range 5 {
		createZone(t, s, "acct1", fmt.Sprintf("z%d.example.", i))
	}
	createZone(t, s, "acct2", "z0.example.")
	tests := []struct {
		name   string
		filter store.ZoneFilter
		want   int
	}{
		{"by account", store.ZoneFilter{AccountID: "acct1"}, 5},
		{"by name", store.ZoneFilter{Name: "z0.example."}, 2},
		{"by account and name", store.ZoneFilter{AccountID: "acct2", Name: "z0.example."}, 1},
		{"all", store.ZoneFilter{}, 6},
		{"unknown account", store.ZoneFilter{AccountID: "nobody"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := map[string]bool{}
			tok := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
				zs, next, err := s.ListZones(ctxT(t), tt.filter, 2, tok)
				if err != nil {
					t.Fatal(err)
				}
				if len(zs) > 2 {
					t.Fatalf("page of %d > page size 2", len(zs))
				}
				for _, z := range zs {
					if ids[z.GetId()] {
						t.Fatalf("zone %s listed twice", z.GetId())
					}
					ids[z.GetId()] = true
				}
				if next == "" {
					break
				}
				tok = next
			}
			if len(ids) != tt.want {
				t.Fatalf("listed %d zones, want %d", len(ids), tt.want)
			}
		})
	}
	if _, _, err := s.ListZones(ctxT(t), store.ZoneFilter{AccountID: "acct1"}, 2, "garbage!"); !errors.Is(err, store.ErrBadPageToken) {
		t.Fatalf("bad token err = %v", err)
	}
}

func rec(id, name, typ, content string) *dnsv1.Record {
	return &dnsv1.Record{Id: id, Name: name, Type: typ, Content: content, Ttl: 1}
}

func put(rs ...*dnsv1.Record) func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
	return func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
		var ops []store.RecordOp
		for _, r := range rs {
			ops = append(ops, store.RecordOp{Put: r})
		}
		return ops, nil
	}
}

func TestPurgeZoneRemovesEverythingAtomically(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	z := createZone(t, s, "acct1", "example.com.")
	if err := s.UpdateRecords(ctx, z.GetId(), put(rec("r1", "www.example.com.", "A", "192.0.2.1"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeZone(ctx, z.GetId()); err != nil {
		t.Fatal(err)
	}
	resp, err := etcdCli.Get(ctx, s.DataPrefix(), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if !strings.HasSuffix(string(kv.Key), "/nameservers") {
			t.Errorf("key left after delete: %s", kv.Key)
		}
	}
	if _, err := s.PurgeZone(ctx, z.GetId()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete err = %v", err)
	}
	// The name is free again.
	createZone(t, s, "acct1", "example.com.")
}

func TestUpdateRecordsWritesReadsAndRekeys(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	z := createZone(t, s, "acct1", "example.com.")
	zid := z.GetId()
	err := s.UpdateRecords(ctx, zid, put(
		rec("r1", "www.example.com.", "A", "192.0.2.1"),
		rec("r2", "www.example.com.", "A", "192.0.2.2"),
		rec("r3", "a.www.example.com.", "TXT", "\"x\""),
		rec("r4", "example.com.", "MX", "mail.example.com."),
	))
	if err != nil {
		t.Fatal(err)
	}
	// The view sees exact names and subtrees.
	err = s.UpdateRecords(ctx, zid, func(ctx context.Context, v store.ZoneView) ([]store.RecordOp, error) {
		at, err := v.RecordsAt(ctx, "www.example.com.")
		if err != nil || len(at) != 2 {
			return nil, fmt.Errorf("RecordsAt = %d, %v; want 2", len(at), err)
		}
		under, err := v.RecordsUnder(ctx, "www.example.com.")
		if err != nil || len(under) != 3 {
			return nil, fmt.Errorf("RecordsUnder = %d, %v; want 3", len(under), err)
		}
		if _, err := v.Record(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("Record(missing) = %v", err)
		}
		r, err := v.Record(ctx, "r1")
		if err != nil {
			return nil, err
		}
		r.Name = "ftp.example.com." // rename: must re-key
		return []store.RecordOp{{Put: r}, {DeleteID: "r2"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRecord(ctx, zid, "r1")
	if err != nil || got.GetName() != "ftp.example.com." || got.GetZoneId() != zid {
		t.Fatalf("renamed record = %v, %v", got, err)
	}
	if _, err := s.GetRecord(ctx, zid, "r2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted record err = %v", err)
	}
	www, _, err := s.ListRecords(ctx, zid, store.RecordFilter{Name: "www.example.com."}, 100, "")
	if err != nil || len(www) != 0 {
		t.Fatalf("old name still has %d records (%v)", len(www), err)
	}

	yes := true
	tests := []struct {
		name   string
		filter store.RecordFilter
		want   []string
	}{
		{"all", store.RecordFilter{}, []string{"r1", "r3", "r4"}},
		{"by name", store.RecordFilter{Name: "ftp.example.com."}, []string{"r1"}},
		{"by type case-insensitive", store.RecordFilter{Type: "txt"}, []string{"r3"}},
		{"by content", store.RecordFilter{Content: "mail.example.com."}, []string{"r4"}},
		{"proxied", store.RecordFilter{Proxied: &yes}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			tok := ""
			for {
				rs, next, err := s.ListRecords(ctx, zid, tt.filter, 1, tok)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					ids = append(ids, r.GetId())
				}
				if next == "" {
					break
				}
				if len(rs) == 0 {
					t.Fatal("non-final page is empty")
				}
				tok = next
			}
			sort.Strings(ids)
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("ids = %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestUpdateRecordsRejectsBadOpsWithoutWriting(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	zid := createZone(t, s, "acct1", "example.com.").GetId()
	fnErr := errors.New("validation failed")
	tests := []struct {
		name string
		ops  []store.RecordOp
		fErr error
		want error
	}{
		{"callback error passes through unwrapped", nil, fnErr, fnErr},
		{"delete of missing record", []store.RecordOp{{Put: rec("ok", "a.example.com.", "A", "192.0.2.1")}, {DeleteID: "missing"}}, nil, store.ErrNotFound},
		{"put without id", []store.RecordOp{{Put: rec("", "a.example.com.", "A", "192.0.2.1")}}, nil, nil},
		{"put with unnormalized name", []store.RecordOp{{Put: rec("x", "A.Example.com", "A", "192.0.2.1")}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.UpdateRecords(ctx, zid, func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
				return tt.ops, tt.fErr
			})
			if err == nil {
				t.Fatal("want an error")
			}
			if tt.want == fnErr && err != fnErr {
				t.Fatalf("err = %v, want the callback's error as is", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			rs, _, err := s.ListRecords(ctx, zid, store.RecordFilter{}, 100, "")
			if err != nil || len(rs) != 0 {
				t.Fatalf("records after a rejected write: %d (%v)", len(rs), err)
			}
		})
	}
	if err := s.UpdateRecords(ctx, "missingzone", put()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing zone err = %v", err)
	}
}

func TestUpdateRecordsRetriesOnConflict(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	zid := createZone(t, s, "acct1", "example.com.").GetId()

	// The first attempt races with another writer; the retry must see its
	// record and succeed.
	calls := 0
	err := s.UpdateRecords(ctx, zid, func(ctx context.Context, v store.ZoneView) ([]store.RecordOp, error) {
		calls++
		if calls == 1 {
			if err := s.UpdateRecords(ctx, zid, put(rec("other", "b.example.com.", "A", "192.0.2.9"))); err != nil {
				return nil, err
			}
		}
		if _, err := v.Record(ctx, "other"); calls > 1 && err != nil {
			return nil, fmt.Errorf("retry does not see the concurrent write: %w", err)
		}
		return []store.RecordOp{{Put: rec("mine", "a.example.com.", "A", "192.0.2.1")}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("callback ran %d times, want 2", calls)
	}

	// A writer that always loses gives up with ErrConflict.
	n := 0
	err = s.UpdateRecords(ctx, zid, func(ctx context.Context, v store.ZoneView) ([]store.RecordOp, error) {
		n++
		if err := s.UpdateRecords(ctx, zid, put(rec(fmt.Sprintf("c%d", n), "c.example.com.", "A", "192.0.2.3"))); err != nil {
			return nil, err
		}
		return []store.RecordOp{{Put: rec("never", "n.example.com.", "A", "192.0.2.4")}}, nil
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if _, err := s.GetRecord(ctx, zid, "never"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("losing write was committed: %v", err)
	}
}

func TestActivateZoneMovesOtherAccountsZone(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	a := createZone(t, s, "acct1", "example.com.")
	b := createZone(t, s, "acct2", "example.com.")
	now := time.Now()
	if _, err := s.ActivateZone(ctx, a.GetId(), now); err != nil {
		t.Fatal(err)
	}
	got, err := s.ActivateZone(ctx, b.GetId(), now)
	if err != nil || got.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
		t.Fatalf("activate b = %v, %v", got, err)
	}
	a2, _ := s.GetZone(ctx, a.GetId())
	if a2.GetStatus() != dnsv1.ZoneStatus_ZONE_STATUS_MOVED {
		t.Fatalf("a status = %v, want MOVED", a2.GetStatus())
	}
}

func TestSettingsDefaultAndUpdate(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	as, err := s.GetAccountSettings(ctx, "acct1")
	if err != nil || as.GetEnforceDnsOnly() {
		t.Fatalf("default account settings = %v, %v", as, err)
	}
	if _, err := s.UpdateAccountSettings(ctx, "acct1", func(cur *dnsv1.AccountSettings) (*dnsv1.AccountSettings, error) {
		cur.EnforceDnsOnly = true
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	if as, _ = s.GetAccountSettings(ctx, "acct1"); !as.GetEnforceDnsOnly() {
		t.Fatal("account setting not stored")
	}
	z := createZone(t, s, "acct1", "example.com.")
	if _, err := s.UpdateZoneSettings(ctx, z.GetId(), func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
		cur.NsTtl = 600
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	zs, err := s.GetZoneSettings(ctx, z.GetId())
	if err != nil || zs.GetNsTtl() != 600 {
		t.Fatalf("zone settings = %v, %v", zs, err)
	}
	if _, err := s.GetZoneSettings(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("settings of missing zone err = %v", err)
	}
}

// A compile reads a zone's settings and DNSSEC state at its batch's
// revision: a later change must not show through (it has its own batch).
func TestSettingsAndDnssecReadAtARevisionAreThatRevisions(t *testing.T) {
	s := newStore(t)
	ctx := ctxT(t)
	z := createZone(t, s, "acct1", "at.example.")
	setTTL := func(ttl uint32) {
		t.Helper()
		if _, err := s.UpdateZoneSettings(ctx, z.GetId(), func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
			cur.NsTtl = ttl
			return cur, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	setTTL(600)
	rev, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	setTTL(900)
	if _, err := s.UpdateDnssec(ctx, z.GetId(), "test", func(*dnsv1.Zone, *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
		return &dnsv1.DnssecState{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	zs, err := s.ZoneSettingsAt(ctx, z.GetId(), rev)
	if err != nil || zs.GetNsTtl() != 600 {
		t.Fatalf("settings at revision %d: ns_ttl %d (%v), want 600", rev, zs.GetNsTtl(), err)
	}
	if st, err := s.DnssecAt(ctx, z.GetId(), rev); err != nil || st != nil {
		t.Fatalf("DNSSEC state at revision %d = %v, %v; want none (written later)", rev, st, err)
	}
	if zs, err = s.GetZoneSettings(ctx, z.GetId()); err != nil || zs.GetNsTtl() != 900 {
		t.Fatalf("latest settings: ns_ttl %d (%v), want 900", zs.GetNsTtl(), err)
	}
}

func TestConcurrentCreatesOfOneNameYieldOneZone(t *testing.T) {
	s := newStore(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.CreateZone(ctxT(t), "acct1", "race.example.", func(store.ZoneCreation) (*dnsv1.Zone, error) {
				return &dnsv1.Zone{Id: fmt.Sprintf("race%d", i), AccountId: "acct1", Name: "race.example."}, nil
			})
			errs <- err
		}()
	}
	ok := 0
	for range n {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrAlreadyExists):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", ok)
	}
	zs, _, err := s.ListZones(ctxT(t), store.ZoneFilter{}, 100, "")
	if err != nil || len(zs) != 1 {
		t.Fatalf("zones stored = %d (%v), want 1", len(zs), err)
	}
}
