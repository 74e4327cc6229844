package builder

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/managed"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// cacheHarness follows etcd's watch as the builder's main loop does
// (loadTree, then absorb response after response) without leading or
// publishing, so that a test can compile a name at each batch revision
// both from the zone cache and from a fresh etcd read, and compare.
type cacheHarness struct {
	b   *Builder
	st  *store.Store
	ctx context.Context
	wch clientv3.WatchChan
	rev int64
	// unwatch ends wch's watch.
	unwatch context.CancelFunc
}

func newCacheHarness(t *testing.T, e *env, cfg Config) *cacheHarness {
	t.Helper()
	if cfg.SOARname == "" {
		cfg.SOARname = "dns.test."
	}
	b, err := New(e.st, e.nc, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rev, err := e.st.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.loadTree(ctx, rev); err != nil {
		t.Fatal(err)
	}
	h := &cacheHarness{b: b, st: e.st, ctx: ctx, rev: rev}
	h.rewatch()
	return h
}

// rewatch replaces the watch by one from the harness's revision on (the
// cache is not touched: the new watch continues the old one's events).
func (h *cacheHarness) rewatch() {
	if h.unwatch != nil {
		h.unwatch()
	}
	var wctx context.Context
	wctx, h.unwatch = context.WithCancel(clientv3.WithRequireLeader(h.ctx))
	h.wch = h.st.Client().Watch(wctx, h.st.DataPrefix(), clientv3.WithPrefix(), clientv3.WithRev(h.rev+1))
}

// sync absorbs the watch until it covers etcd's current revision (a
// progress notification says when) and returns the batch's revision.
func (h *cacheHarness) sync(t *testing.T) int64 {
	t.Helper()
	cur, err := h.st.CurrentRevision(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	bt := newBatch()
	bt.rev = h.rev
	for bt.rev < cur {
		if err := h.st.Client().RequestProgress(h.ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case resp, ok := <-h.wch:
			if err := h.b.absorb(bt, resp, ok); err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watch stuck at %d, want %d", bt.rev, cur)
		}
	}
	h.rev = bt.rev
	return bt.rev
}

// cached compiles name at rev as publishName does (cache first).
func (h *cacheHarness) cached(name string, rev int64) (*snapshot.Zone, error) {
	z, d, err := h.b.compileInput(h.ctx, name, rev)
	if err != nil || z == nil {
		return nil, err
	}
	snap, _, err := h.b.compileSnapshot(h.ctx, z, d, rev)
	return snap, err
}

// fresh compiles name at rev from etcd alone, keeping nothing.
func (h *cacheHarness) fresh(name string, rev int64) (*snapshot.Zone, error) {
	names := ancestry(name)
	byName, err := h.st.ZonesNamedManyAt(h.ctx, names, rev)
	if err != nil {
		return nil, err
	}
	z, err := h.b.decide(h.ctx, name, names, byName, rev, h.st.RecordsAtNameAt)
	if err != nil || z == nil {
		return nil, err
	}
	d, err := h.b.readZoneData(h.ctx, z.GetId(), rev)()
	if err != nil {
		return nil, err
	}
	snap, _, err := h.b.compileSnapshot(h.ctx, z, d, rev)
	return snap, err
}

// same fails the test unless the cached compile of name at rev equals
// the fresh one (both failing counts as equal: the cache fell back).
func (h *cacheHarness) same(t *testing.T, step, name string, rev int64) {
	t.Helper()
	got, gerr := h.cached(name, rev)
	want, werr := h.fresh(name, rev)
	if (gerr != nil) != (werr != nil) {
		t.Fatalf("%s: %s at %d: cached error %v, fresh error %v", step, name, rev, gerr, werr)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("%s: %s at %d: cached compile differs from etcd's\ncached: %s\nfresh:  %s", step, name, rev,
			prototext.Format(got), prototext.Format(want))
	}
}

func (h *cacheHarness) lookups(result string) float64 {
	return testutil.ToFloat64(h.b.m.cacheLookups.WithLabelValues(result))
}

// cacheWorld is the zones the random writes change: a parent and a
// child of another account (served only while the parent delegates), a
// child of the parent's own account, one name held by two accounts (the
// activation of one moves the other), a secondary zone with overrides,
// a zone with outgoing transfers and a signed one.
type cacheWorld struct {
	t    *testing.T
	st   *store.Store
	ring *keyseal.Ring
	// zone id → name, and the accounts of the shared name's zones.
	zones map[string]string
	ids   []string
	n     int
}

func newCacheWorld(t *testing.T, st *store.Store) *cacheWorld {
	w := &cacheWorld{t: t, st: st, zones: map[string]string{}}
	k, _ := keyseal.Generate()
	w.ring, _ = keyseal.New(k)
	active, pending := dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, dnsv1.ZoneStatus_ZONE_STATUS_PENDING
	for _, z := range []struct {
		id, acct, name string
		status         dnsv1.ZoneStatus
		typ            dnsv1.ZoneType
	}{
		{"par", "acct1", "example.", active, dnsv1.ZoneType_ZONE_TYPE_FULL},
		{"sub", "acct2", "sub.example.", active, dnsv1.ZoneType_ZONE_TYPE_FULL},
		{"own", "acct1", "own.example.", active, dnsv1.ZoneType_ZONE_TYPE_FULL},
		{"sh1", "acct1", "shared.test.", pending, dnsv1.ZoneType_ZONE_TYPE_FULL},
		{"sh2", "acct3", "shared.test.", pending, dnsv1.ZoneType_ZONE_TYPE_FULL},
		{"sec", "acct1", "sec.test.", active, dnsv1.ZoneType_ZONE_TYPE_SECONDARY},
		{"xfr", "acct1", "xfr.test.", active, dnsv1.ZoneType_ZONE_TYPE_FULL},
		{"dz", "acct1", "dnssec.test.", active, dnsv1.ZoneType_ZONE_TYPE_FULL},
	} {
		w.create(z.id, z.acct, z.name, z.status, z.typ)
		w.ids = append(w.ids, z.id)
	}
	if err := st.CreatePeer(context.Background(), &dnsv1.Peer{Id: "p1", AccountId: "acct1", Name: "secondary", Ip: "203.0.113.9", Port: 53}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *cacheWorld) create(id, acct, name string, status dnsv1.ZoneStatus, typ dnsv1.ZoneType) {
	w.t.Helper()
	_, err := w.st.CreateZone(context.Background(), acct, name, func(store.ZoneCreation) (*dnsv1.Zone, error) {
		return &dnsv1.Zone{Id: id, AccountId: acct, Name: name, Status: status, Type: typ,
			NameServers: parentNS, CreatedOn: timestamppb.Now()}, nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.zones[id] = name
}

func (w *cacheWorld) names() []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range w.ids {
		if n := w.zones[id]; !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return append(out, "absent.test.", "deep.sub.example.")
}

// write makes one random change and says what it was.
func (w *cacheWorld) write(r *rand.Rand) string {
	ctx := context.Background()
	w.n++
	id := w.ids[r.IntN(len(w.ids))]
	name := w.zones[id]
	must := func(err error) {
		w.t.Helper()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			w.t.Fatal(err)
		}
	}
	records := func(ops ...store.RecordOp) {
		w.t.Helper()
		must(w.st.UpdateRecords(ctx, id, func(context.Context, store.ZoneView) ([]store.RecordOp, error) { return ops, nil }))
	}
	switch k := r.IntN(12); {
	case k < 5: // put, update or rename one record (ids from a small pool)
		owners := []string{name, "www." + name, "mail." + name}
		if id == "par" {
			owners = append(owners, "sub.example.", "deep.sub.example.")
		}
		rec := &dnsv1.Record{Id: fmt.Sprintf("r%d", r.IntN(6)), Name: owners[r.IntN(len(owners))], Ttl: uint32(r.IntN(3)) * 60}
		switch r.IntN(4) {
		case 0:
			rec.Type, rec.Content = "A", fmt.Sprintf("192.0.2.%d", r.IntN(250))
		case 1:
			rec.Type, rec.Content = "NS", parentNS[r.IntN(2)]
		case 2:
			rec.Type, rec.Content = "TXT", fmt.Sprintf("\"v%d\"", w.n)
		default:
			rec.Type, rec.Content, rec.Proxied = "CNAME", "target.example.net.", r.IntN(2) == 0
		}
		if id == "sec" && r.IntN(2) == 0 {
			rec.Meta = &dnsv1.RecordMeta{ManagedBy: managed.SecondaryDNS.String()}
		}
		if rec.Type == "NS" && rec.Name != name && id != "par" {
			rec.Type = "A"
			rec.Content = "192.0.2.99"
		}
		records(store.RecordOp{Put: rec})
		return fmt.Sprintf("put %s %s %s %s in %s", rec.Id, rec.Name, rec.Type, rec.Content, id)
	case k < 6: // several records at once
		var ops []store.RecordOp
		for i := range 4 {
			ops = append(ops, store.RecordOp{Put: &dnsv1.Record{Id: fmt.Sprintf("b%d", i), Name: fmt.Sprintf("h%d.%s", r.IntN(3), name),
				Type: "A", Content: fmt.Sprintf("198.51.100.%d", r.IntN(250)), Ttl: 60}})
		}
		records(ops...)
		return "bulk put in " + id
	case k < 7:
		del := fmt.Sprintf("r%d", r.IntN(6))
		if r.IntN(3) == 0 {
			del = fmt.Sprintf("b%d", r.IntN(4))
		}
		records(store.RecordOp{DeleteID: del})
		return "delete " + del + " in " + id
	case k < 8: // zone settings
		_, err := w.st.UpdateZoneSettings(ctx, id, func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
			cur = proto.Clone(cur).(*dnsv1.ZoneSettings)
			cur.MultiProvider = r.IntN(2) == 0
			cur.NsTtl = uint32(r.IntN(3)) * 3600
			cur.SecondaryOverrides = r.IntN(2) == 0
			cur.FlattenAllCnames = r.IntN(2) == 0
			return cur, nil
		})
		must(err)
		return "settings of " + id
	case k < 9: // DNSSEC on or off
		on := r.IntN(2) == 0
		_, err := w.st.UpdateDnssec(ctx, id, "test", func(_ *dnsv1.Zone, cur *dnsv1.DnssecState) (*dnsv1.DnssecState, error) {
			if !on {
				return nil, nil
			}
			return cpdnssec.Enable(cur, w.ring, id, name, cpdnssec.Policy{}.WithDefaults(), time.Now())
		})
		must(err)
		return fmt.Sprintf("dnssec %v on %s", on, id)
	case k < 10: // status: activation (moves the other zone of a shared name), or any status
		if id == "sh1" || id == "sh2" {
			_, err := w.st.ActivateZone(ctx, id, time.Now())
			must(err)
			return "activate " + id
		}
		st := []dnsv1.ZoneStatus{dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE, dnsv1.ZoneStatus_ZONE_STATUS_PENDING,
			dnsv1.ZoneStatus_ZONE_STATUS_MOVED, dnsv1.ZoneStatus_ZONE_STATUS_DELETED}[r.IntN(4)]
		var err error
		if st == dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE {
			_, err = w.st.ActivateZone(ctx, id, time.Now())
		} else {
			_, _, err = w.st.SetZoneStatus(ctx, "test", id, nil, st, time.Now())
		}
		must(err)
		return fmt.Sprintf("status %v of %s", st, id)
	case k < 11: // outgoing transfers on or off
		on := r.IntN(2) == 0
		var peers []string
		if on {
			peers = []string{"p1"}
		}
		_, err := w.st.UpdateOutgoingTransfer(ctx, id, peers, func(*dnsv1.Zone, *dnsv1.OutgoingTransfer, []*dnsv1.Peer) (*dnsv1.OutgoingTransfer, error) {
			return &dnsv1.OutgoingTransfer{ZoneId: id, Enabled: on, Peers: peers}, nil
		})
		must(err)
		return fmt.Sprintf("outgoing transfer %v on %s", on, id)
	default: // the zone deleted for good, then created again (same id, new records)
		if _, err := w.st.PurgeZone(ctx, id); err != nil {
			w.t.Fatal(err)
		}
		acct := map[string]string{"sub": "acct2", "sh2": "acct3"}[id]
		if acct == "" {
			acct = "acct1"
		}
		typ := dnsv1.ZoneType_ZONE_TYPE_FULL
		if id == "sec" {
			typ = dnsv1.ZoneType_ZONE_TYPE_SECONDARY
		}
		w.create(id, acct, name, dnsv1.ZoneStatus_ZONE_STATUS_PENDING, typ)
		return "purge and recreate " + id
	}
}

// The zone cache must give what a read of etcd at the batch's revision
// gives, whatever the sequence of writes: after each random write (records
// put, updated, renamed, deleted; zone settings; DNSSEC on and off; zone
// statuses, activations moving the other account's zone; outgoing
// transfers; zones purged and created again), every name is compiled from
// the cache and from etcd, on real etcd, and the snapshots must be equal.
// Tight bounds make the cache forget and refill all along.
func TestZoneCacheCompilesWhatEtcdHoldsAcrossRandomWrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		seed  uint64
		steps int
		// minHitRate is the share of compiles the cache must answer.
		minHitRate float64
	}{
		{name: "default bounds", seed: 1, steps: 150, minHitRate: 0.5},
		{name: "default bounds, another sequence", seed: 7, steps: 150, minHitRate: 0.5},
		{name: "tight bounds", cfg: Config{CacheZoneRecords: 5, CacheRecords: 12, CacheZones: 3}, seed: 3, steps: 150},
		{name: "cache off", cfg: Config{CacheZoneRecords: -1}, seed: 5, steps: 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 0)
			w := newCacheWorld(t, e.st)
			h := newCacheHarness(t, e, tc.cfg)
			r := rand.New(rand.NewPCG(tc.seed, tc.seed))
			for i := range tc.steps {
				step := fmt.Sprintf("step %d (%s)", i, w.write(r))
				rev := h.sync(t)
				for _, n := range w.names() {
					h.same(t, step, n, rev)
				}
			}
			hits, misses := h.lookups("hit"), h.lookups("miss")
			t.Logf("cache hits %v, misses %v", hits, misses)
			switch {
			case tc.cfg.CacheZoneRecords < 0 && hits > 0:
				t.Fatalf("cache off answered %v compiles", hits)
			case hits < tc.minHitRate*(hits+misses):
				t.Fatalf("cache answered %v of %v compiles, want at least %v%%", hits, hits+misses, tc.minHitRate*100)
			}
		})
	}
}

// Whatever the cache cannot vouch for is read from etcd: a compile at a
// revision other than the cache's, a zone over the size bound, a record
// value that does not decode, and everything after the cache starts over
// (a new watch: a new term, a restart, a compacted revision).
func TestZoneCacheFallsBackToEtcd(t *testing.T) {
	ctx := context.Background()
	type fixture struct {
		e *env
		h *cacheHarness
	}
	setup := func(t *testing.T, cfg Config) fixture {
		e := newEnv(t, 0)
		createZone(t, e.st, "z1", "acct1", "fall.test.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
		putRecords(t, e.st, "z1", rec("a", "www.fall.test.", "192.0.2.1"), rec("b", "mail.fall.test.", "192.0.2.2"))
		h := newCacheHarness(t, e, cfg)
		rev := h.sync(t)
		h.same(t, "fill", "fall.test.", rev) // reads etcd, fills the cache
		return fixture{e, h}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		// change makes the situation; compile says whether the next
		// compile must be a hit.
		change func(t *testing.T, f fixture) (rev int64, hit bool)
	}{
		{name: "a change is answered from the cache", change: func(t *testing.T, f fixture) (int64, bool) {
			putRecords(t, f.e.st, "z1", rec("a", "www.fall.test.", "192.0.2.9"))
			return f.h.sync(t), true
		}},
		{name: "another revision than the cache's", change: func(t *testing.T, f fixture) (int64, bool) {
			old := f.h.rev
			putRecords(t, f.e.st, "z1", rec("c", "ftp.fall.test.", "192.0.2.3"))
			f.h.sync(t)
			return old, false
		}},
		{name: "a zone grown past the bound", cfg: Config{CacheZoneRecords: 3}, change: func(t *testing.T, f fixture) (int64, bool) {
			putRecords(t, f.e.st, "z1", rec("c", "ftp.fall.test.", "192.0.2.3"), rec("d", "ns.fall.test.", "192.0.2.4"))
			return f.h.sync(t), false
		}},
		{name: "a record that does not decode", change: func(t *testing.T, f fixture) (int64, bool) {
			if _, err := f.e.st.Client().Put(ctx, "/zg/data/records/z1/"+dnsname.Reverse("www.fall.test.")+"/a", "\xff\xff\xff"); err != nil {
				t.Fatal(err)
			}
			return f.h.sync(t), false
		}},
		{name: "the cache started over", change: func(t *testing.T, f fixture) (int64, bool) {
			rev := f.h.sync(t)
			if err := f.h.b.loadTree(ctx, rev); err != nil {
				t.Fatal(err)
			}
			return rev, false
		}},
		{name: "the cache turned off when its watch ended", change: func(t *testing.T, f fixture) (int64, bool) {
			rev := f.h.sync(t)
			f.h.b.cache.reset(0, nil)
			return rev, false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, tc.cfg)
			rev, hit := tc.change(t, f)
			hits := f.h.lookups("hit")
			f.h.same(t, tc.name, "fall.test.", rev)
			if got := f.h.lookups("hit") > hits; got != hit {
				t.Fatalf("compile answered from the cache: %v, want %v", got, hit)
			}
		})
	}
}

// A watch more than 1,000 revisions behind gets etcd's changes in several
// responses, each with the store's current revision in its header (mvcc's
// watchBatchMaxRevs). The cache (and the batch) must stand at the
// revision the events reached, not the header's: at the header's, a
// zone cached before and changed in a later response compiled without
// that change at a revision that has it.
func TestZoneCacheFollowsAWatchFarBehind(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "many", "acct1", "many.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	createZone(t, e.st, "last", "acct1", "last.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	putRecords(t, e.st, "last", rec("a", "www.last.example.", "192.0.2.1"))
	h := newCacheHarness(t, e, Config{})
	h.same(t, "fill", "last.example.", h.sync(t))
	h.unwatch() // the harness is away while the writes happen
	for i := range 1100 {
		putRecords(t, e.st, "many", rec(fmt.Sprintf("r%d", i%50), fmt.Sprintf("h%d.many.example.", i%50), fmt.Sprintf("192.0.2.%d", i%250)))
	}
	putRecords(t, e.st, "last", rec("a", "www.last.example.", "198.51.100.1"))
	h.rewatch()
	bt := newBatch()
	resp, ok := <-h.wch
	if err := h.b.absorb(bt, resp, ok); err != nil {
		t.Fatal(err)
	}
	if n := len(resp.Events); n == 0 || resp.Events[n-1].Kv.ModRevision >= resp.Header.Revision {
		t.Fatalf("first response of the late watch: %d events, header revision %d: etcd sent all at once", n, resp.Header.Revision)
	}
	h.same(t, "first response", "last.example.", bt.rev)
	h.rev = bt.rev
	h.same(t, "caught up", "last.example.", h.sync(t))
	if z, _ := h.cached("last.example.", h.rev); len(z.GetRecords()) != 1 || string(z.GetRecords()[0].GetRr()) == "" {
		t.Fatalf("caught up: %v", z)
	}
}

// BenchmarkZoneCacheBytesPerRecord reports the heap a record held in the
// zone cache takes (decoded as a watch event decodes it, with its key and
// its compiled form):
// the figure behind the bounds in README.md.
//
//	go test -run '^$' -bench BenchmarkZoneCacheBytesPerRecord ./controlplane/builder/
func BenchmarkZoneCacheBytesPerRecord(b *testing.B) {
	const n = 10_000
	raw := make([][]byte, n)
	keys := make([]string, n)
	for i := range n {
		r := &dnsv1.Record{Id: fmt.Sprintf("%032x", i), Name: fmt.Sprintf("host-%d.example.com.", i), Type: "A",
			Content: fmt.Sprintf("192.0.%d.%d", i/250, i%250), Ttl: 300, Proxied: i%2 == 0,
			CreatedOn: timestamppb.Now(), ModifiedOn: timestamppb.Now()}
		raw[i], _ = proto.Marshal(r)
		keys[i] = dnsname.Reverse(r.GetName()) + "/" + r.GetId()
	}
	var perRecord float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := &cachedZone{recs: make([]keyedRecord, 0, n), hasRecs: true}
		buf := make([]byte, 65535)
		for i := range n {
			r := &dnsv1.Record{}
			if err := proto.Unmarshal(raw[i], r); err != nil {
				b.Fatal(err)
			}
			e.recs = append(e.recs, keyed(strings.Clone(keys[i]), r, buf))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRecord = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(e)
	}
	b.ReportMetric(perRecord, "bytes/record")
}
