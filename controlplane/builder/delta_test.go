package builder

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// startDeltaBuilder runs a builder that treats zones of 5 records or more
// as large.
func (e *env) startDeltaBuilder(t *testing.T, cfg Config) (*Builder, func()) {
	t.Helper()
	cfg.SOARname, cfg.Coalesce = "dns.test.", 5*time.Millisecond
	if cfg.DeltaThreshold == 0 {
		cfg.DeltaThreshold = 5
	}
	b, err := New(e.st, e.nc, cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Run(ctx)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return b, stop
}

// deltas returns every delta of a zone held in the stream, in order.
func (e *env) deltas(t *testing.T, name string) []*snapshot.ZoneDelta {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, snapshot.DeltaStream)
	if err != nil {
		return nil
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*snapshot.ZoneDelta
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if m.Subject != snapshot.DeltaSubject(name) {
			continue
		}
		d, err := snapshot.UnmarshalDelta(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func updateRecords(t *testing.T, st *store.Store, zid string, ops ...store.RecordOp) {
	t.Helper()
	if err := st.UpdateRecords(context.Background(), zid, func(context.Context, store.ZoneView) ([]store.RecordOp, error) {
		return ops, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func rec(id, name, content string) *dnsv1.Record {
	return &dnsv1.Record{Id: id, Name: name, Type: "A", Content: content, Ttl: 60}
}

func ids(rs []*snapshot.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.GetId())
	}
	slices.Sort(out)
	return out
}

func TestBuilderPublishesChangesOfLargeZonesAsDeltas(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	createZone(t, e.st, "small", "acct1", "small.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	var rs []*dnsv1.Record
	for i := range 8 {
		rs = append(rs, rec(fmt.Sprintf("r%d", i), fmt.Sprintf("h%d.big.example.", i), "192.0.2.1"))
	}
	putRecords(t, e.st, "big", rs...)
	putRecords(t, e.st, "small", rec("s1", "www.small.example.", "192.0.2.1"))
	_, stop := e.startDeltaBuilder(t, Config{DeltaChainMax: 3, FullEvery: time.Hour})

	var full uint64
	eventually(t, "full snapshot of the large zone", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		if err != nil {
			return false, err.Error()
		}
		full = z.GetHeader().GetVersion()
		return len(z.GetRecords()) == 8, fmt.Sprint(len(z.GetRecords()))
	})

	// One transaction: a content change, a delete and a rename.
	updateRecords(t, e.st, "big",
		store.RecordOp{Put: rec("r1", "h1.big.example.", "192.0.2.99")},
		store.RecordOp{DeleteID: "r2"},
		store.RecordOp{Put: rec("r3", "renamed.big.example.", "192.0.2.1")})
	putRecords(t, e.st, "small", rec("s2", "mail.small.example.", "192.0.2.2"))
	var d1 *snapshot.ZoneDelta
	eventually(t, "first delta", func() (bool, string) {
		ds := e.deltas(t, "big.example.")
		if len(ds) != 1 {
			return false, fmt.Sprint(len(ds), " deltas")
		}
		d1 = ds[0]
		return true, ""
	})
	if d1.GetFromVersion() != full || d1.GetToVersion() <= full || d1.GetZoneId() != "big" || d1.GetHeader() != nil {
		t.Errorf("delta %d→%d zone %q header %v; full snapshot at %d", d1.GetFromVersion(), d1.GetToVersion(), d1.GetZoneId(), d1.GetHeader(), full)
	}
	if got := ids(d1.GetUpserts()); !slices.Equal(got, []string{"r1", "r3"}) {
		t.Errorf("upserts %v, want r1 r3", got)
	}
	if !slices.Equal(d1.GetDeletes(), []string{"r2"}) {
		t.Errorf("deletes %v, want r2", d1.GetDeletes())
	}
	// The full snapshot is not rewritten for one change; small zones keep
	// going out whole.
	if z, err := e.zoneSnapshot(t, "big.example."); err != nil || z.GetHeader().GetVersion() != full {
		t.Errorf("full snapshot moved to %d (err %v), want %d", z.GetHeader().GetVersion(), err, full)
	}
	eventually(t, "small zone published whole", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "small.example.")
		return err == nil && len(z.GetRecords()) == 2, fmt.Sprint(err)
	})
	if n := len(e.deltas(t, "small.example.")); n != 0 {
		t.Errorf("%d deltas for the small zone", n)
	}

	// A settings change travels as a delta carrying the new header.
	if _, err := e.st.UpdateZoneSettings(context.Background(), "big", func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
		cur.NsTtl = 1234
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	var d2 *snapshot.ZoneDelta
	eventually(t, "header delta", func() (bool, string) {
		ds := e.deltas(t, "big.example.")
		if len(ds) != 2 {
			return false, fmt.Sprint(len(ds), " deltas")
		}
		d2 = ds[1]
		return true, ""
	})
	if d2.GetFromVersion() != d1.GetToVersion() || d2.GetHeader().GetNsTtl() != 1234 || d2.GetHeader().GetVersion() != d2.GetToVersion() ||
		len(d2.GetUpserts())+len(d2.GetDeletes()) != 0 {
		t.Errorf("header delta %d→%d header %v", d2.GetFromVersion(), d2.GetToVersion(), d2.GetHeader())
	}

	// The third delta reaches DeltaChainMax: the full snapshot is
	// rewritten in the background at the last published revision.
	putRecords(t, e.st, "big", rec("r9", "new.big.example.", "192.0.2.9"))
	eventually(t, "full snapshot rewritten after the chain limit", func() (bool, string) {
		ds := e.deltas(t, "big.example.")
		z, err := e.zoneSnapshot(t, "big.example.")
		if err != nil || len(ds) != 3 {
			return false, fmt.Sprint(len(ds), err)
		}
		v := z.GetHeader().GetVersion()
		return v >= ds[2].GetToVersion() && len(z.GetRecords()) == 8 && z.GetHeader().GetNsTtl() == 1234 &&
			recordIDs(z)["r9"] && !recordIDs(z)["r2"], fmt.Sprint(v, " ", len(z.GetRecords()))
	})

	// A restarted builder recovers the chain from what is published: the
	// next change is a delta from the last version, not a full snapshot.
	stop()
	before, err := e.zoneSnapshot(t, "big.example.")
	if err != nil {
		t.Fatal(err)
	}
	last := e.deltas(t, "big.example.")[2].GetToVersion()
	putRecords(t, e.st, "big", rec("r10", "after.big.example.", "192.0.2.10"))
	e.startDeltaBuilder(t, Config{DeltaChainMax: 3, FullEvery: time.Hour})
	eventually(t, "delta after restart", func() (bool, string) {
		ds := e.deltas(t, "big.example.")
		return len(ds) == 4, fmt.Sprint(len(ds))
	})
	d4 := e.deltas(t, "big.example.")[3]
	if want := max(last, before.GetHeader().GetVersion()); d4.GetFromVersion() != want || ids(d4.GetUpserts())[0] != "r10" {
		t.Errorf("delta after restart %d→%d %v, want from %d with r10", d4.GetFromVersion(), d4.GetToVersion(), ids(d4.GetUpserts()), want)
	}
	if z, err := e.zoneSnapshot(t, "big.example."); err != nil || z.GetHeader().GetVersion() != before.GetHeader().GetVersion() {
		t.Errorf("restart rewrote the full snapshot: %v", err)
	}
	putRecords(t, e.st, "big", rec("r11", "later.big.example.", "192.0.2.11"))
	eventually(t, "next delta continues the chain", func() (bool, string) {
		ds := e.deltas(t, "big.example.")
		return len(ds) == 5 && ds[4].GetFromVersion() == d4.GetToVersion(), fmt.Sprint(len(ds))
	})
}

func TestBuilderRewritesOldFullSnapshotsOfDeltaZones(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	var rs []*dnsv1.Record
	for i := range 6 {
		rs = append(rs, rec(fmt.Sprintf("r%d", i), fmt.Sprintf("h%d.big.example.", i), "192.0.2.1"))
	}
	putRecords(t, e.st, "big", rs...)
	b, _ := e.startDeltaBuilder(t, Config{FullEvery: 200 * time.Millisecond})
	eventually(t, "full snapshot", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		return err == nil && len(z.GetRecords()) == 6, fmt.Sprint(err)
	})
	putRecords(t, e.st, "big", rec("r6", "h6.big.example.", "192.0.2.1"))
	eventually(t, "a quiet zone's full snapshot catches up with its deltas", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		ds := e.deltas(t, "big.example.")
		return err == nil && len(ds) == 1 && z.GetHeader().GetVersion() >= ds[0].GetToVersion() && len(z.GetRecords()) == 7,
			fmt.Sprint(len(ds), err)
	})
	if n := testutilCount(b); n < 1 {
		t.Errorf("%v full rewrites", n)
	}
	// A deleted zone is never brought back by a rewrite.
	if _, err := e.st.PurgeZone(context.Background(), "big"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted zone unpublished", func() (bool, string) {
		_, err := e.zoneSnapshot(t, "big.example.")
		return err == jetstream.ErrKeyNotFound, fmt.Sprint(err)
	})
	time.Sleep(500 * time.Millisecond)
	if _, err := e.zoneSnapshot(t, "big.example."); err != jetstream.ErrKeyNotFound {
		t.Errorf("deleted zone came back: %v", err)
	}
}

func testutilCount(b *Builder) float64 { return testutil.ToFloat64(b.m.fullRewrites) }

func TestZoneCustomNameserversOfALargeZoneArePublishedInFull(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	var rs []*dnsv1.Record
	for i := range 8 {
		rs = append(rs, rec(fmt.Sprintf("r%d", i), fmt.Sprintf("h%d.big.example.", i), "192.0.2.1"))
	}
	putRecords(t, e.st, "big", rs...)
	e.startDeltaBuilder(t, Config{DeltaChainMax: 50, FullEvery: time.Hour})
	eventually(t, "full snapshot", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		if err != nil {
			return false, err.Error()
		}
		return len(z.GetRecords()) == 8, fmt.Sprint(len(z.GetRecords()))
	})
	if _, err := e.st.UpdateZone(context.Background(), "test", "big", func(z *dnsv1.Zone) (*dnsv1.Zone, error) {
		z.VanityNameServers = []string{"ns1.big.example.", "ns2.big.example."}
		z.VanityNameServersIps = []*dnsv1.NameserverAddresses{
			{Name: "ns1.big.example.", Ipv4: "203.0.113.53", Ipv6: "2001:db8::53"},
			{Name: "ns2.big.example.", Ipv4: "203.0.113.54", Ipv6: "2001:db8::54"},
		}
		return z, nil
	}); err != nil {
		t.Fatal(err)
	}
	// Not a delta of the header alone: the glue records must travel too.
	eventually(t, "full snapshot with the glue", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		if err != nil {
			return false, err.Error()
		}
		return len(z.GetRecords()) == 12 && slices.Equal(z.GetHeader().GetNameServers(), []string{"ns1.big.example.", "ns2.big.example."}),
			fmt.Sprintf("%d records, NS %v", len(z.GetRecords()), z.GetHeader().GetNameServers())
	})
}

// With multi-provider DNS the user's apex NS records join the served NS
// set, which the header carries: a delta carrying a new header (here a
// settings change) must keep them, and adding one must reach the header.
func TestApexNSRecordsOfAMultiProviderDeltaZoneStayInItsHeader(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	if _, err := e.st.UpdateZoneSettings(context.Background(), "big", func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
		cur.MultiProvider = true
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	rs := []*dnsv1.Record{{Id: "ns", Name: "big.example.", Type: "NS", Content: "ns1.other-provider.test.", Ttl: 3600}}
	for i := range 8 {
		rs = append(rs, rec(fmt.Sprintf("r%d", i), fmt.Sprintf("h%d.big.example.", i), "192.0.2.1"))
	}
	putRecords(t, e.st, "big", rs...)
	e.startDeltaBuilder(t, Config{DeltaChainMax: 50, FullEvery: time.Hour})
	var served []string
	eventually(t, "full snapshot", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		if err != nil {
			return false, err.Error()
		}
		served = z.GetHeader().GetNameServers()
		return len(z.GetRecords()) == 9, fmt.Sprint(len(z.GetRecords()))
	})
	if !slices.Contains(served, "ns1.other-provider.test.") {
		t.Fatalf("full snapshot NS %v: the user's apex NS is missing", served)
	}
	if _, err := e.st.UpdateZoneSettings(context.Background(), "big", func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
		cur.NsTtl = 1234
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "header delta", func() (bool, string) {
		ds := e.deltas(t, "big.example.")
		if len(ds) == 0 || ds[len(ds)-1].GetHeader().GetNsTtl() != 1234 {
			return false, fmt.Sprint(len(ds), " deltas")
		}
		h := ds[len(ds)-1].GetHeader()
		return slices.Equal(h.GetNameServers(), served), fmt.Sprint("delta header NS ", h.GetNameServers())
	})
}
