package builder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// compileFromEtcd is what publishName would publish for name at rev: the
// reference a rewrite from the published snapshot must equal.
func compileFromEtcd(t *testing.T, b *Builder, e *env, name string, rev int64) *snapshot.Zone {
	t.Helper()
	ctx := context.Background()
	z, err := b.serving(ctx, name, rev)
	if err != nil || z == nil {
		t.Fatalf("serving zone of %s at %d: %v %v", name, rev, z, err)
	}
	zs, err := e.st.ZoneSettingsAt(ctx, z.GetId(), rev)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := e.st.ZoneRecords(ctx, z.GetId(), rev)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.st.DnssecAt(ctx, z.GetId(), rev)
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := compileZone(z, zs, recs, rev, b.opts)
	snap.Header.Dnssec = dnssecHeader(ds)
	if snap.Header.Transfer, err = b.transferHeader(ctx, z, rev); err != nil {
		t.Fatal(err)
	}
	return snap
}

// sameZone compares two snapshots: headers exactly, records as a set (a
// rewrite keeps the base's order, new records after it).
func sameZone(t *testing.T, got, want *snapshot.Zone) {
	t.Helper()
	if !proto.Equal(got.GetHeader(), want.GetHeader()) {
		t.Errorf("header\n got %v\nwant %v", got.GetHeader(), want.GetHeader())
	}
	byID := func(z *snapshot.Zone) []*snapshot.Record {
		rs := slices.Clone(z.GetRecords())
		slices.SortFunc(rs, func(a, b *snapshot.Record) int { return strings.Compare(a.GetId(), b.GetId()) })
		return rs
	}
	g, w := byID(got), byID(want)
	if len(g) != len(w) {
		gi, wi := ids(g), ids(w)
		extra := slices.DeleteFunc(slices.Clone(gi), func(id string) bool { return slices.Contains(wi, id) })
		missing := slices.DeleteFunc(slices.Clone(wi), func(id string) bool { return slices.Contains(gi, id) })
		t.Errorf("%d records, want %d: extra %v, missing %v", len(g), len(w), extra, missing)
		return
	}
	for i := range g {
		if !proto.Equal(g[i], w[i]) {
			t.Errorf("record %s\n got %v\nwant %v", w[i].GetId(), g[i], w[i])
		}
	}
}

// TestRewriteFromPublishedSnapshotEqualsCompileFromEtcd: the background
// rewrite of a delta zone, built from the published full snapshot (KV value
// or object store) and the deltas since, equals a compile of the zone from
// etcd at the same revision, after adds, updates, deletes, renames, a
// record that does not compile, an SOA record (the header carries the SOA),
// a settings change, and changes the rewrite must leave out (after its
// revision).
func TestRewriteFromPublishedSnapshotEqualsCompileFromEtcd(t *testing.T) {
	tests := []struct {
		name       string
		maxPayload int32
		wantObject bool
	}{
		{"base in the KV value", 0, false},
		{"base in the object store", 32 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.maxPayload)
			createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
			var rs []*dnsv1.Record
			for i := range 300 {
				rs = append(rs, &dnsv1.Record{Id: fmt.Sprintf("r%03d", i), Name: fmt.Sprintf("h%d.big.example.", i),
					Type: "TXT", Content: "\"text long enough that 300 of them do not fit in one small message\"", Ttl: 60})
			}
			putRecords(t, e.st, "big", rs...)
			b, _ := e.startDeltaBuilder(t, Config{DeltaChainMax: 1000, FullEvery: time.Hour})
			eventually(t, "full snapshot", func() (bool, string) {
				z, err := e.zoneSnapshot(t, "big.example.")
				return err == nil && len(z.GetRecords()) == 300 && (z.GetRecordsObject() != "") == tt.wantObject, fmt.Sprint(err)
			})

			steps := [][]store.RecordOp{
				{{Put: rec("n1", "new1.big.example.", "192.0.2.1")}, {Put: rec("n2", "new2.big.example.", "192.0.2.2")}},
				{{Put: &dnsv1.Record{Id: "r001", Name: "h1.big.example.", Type: "TXT", Content: "\"changed\"", Ttl: 300}}},
				{{DeleteID: "r002"}, {DeleteID: "n2"}},
				{{Put: &dnsv1.Record{Id: "r003", Name: "moved.big.example.", Type: "TXT", Content: "\"renamed\"", Ttl: 60}}},
				{{Put: &dnsv1.Record{Id: "r004", Name: "h4.big.example.", Type: "A", Content: "not an address", Ttl: 60}}},
				{{Put: &dnsv1.Record{Id: "soa1", Name: "big.example.", Type: "SOA",
					Content: "ns.example. host.example. 1 7200 3600 1209600 3600", Ttl: 60}}},
				{{Put: rec("n1", "new1.big.example.", "192.0.2.11")}, {Put: rec("n3", "new3.big.example.", "192.0.2.3")}},
			}
			for i, ops := range steps {
				// Counted before the write: the delta may be out before
				// the write call returns.
				n := len(e.deltas(t, "big.example."))
				updateRecords(t, e.st, "big", ops...)
				if i%2 == 0 { // several deltas in the chain, some with several changes
					eventually(t, "a delta", func() (bool, string) { return len(e.deltas(t, "big.example.")) > n, "" })
				}
			}
			if _, err := e.st.UpdateZoneSettings(context.Background(), "big", func(_ *dnsv1.Zone, cur *dnsv1.ZoneSettings) (*dnsv1.ZoneSettings, error) {
				cur.NsTtl = 4321
				return cur, nil
			}); err != nil {
				t.Fatal(err)
			}
			// The changes coalesce into one or more deltas; the settings
			// change is the last.
			eventually(t, "every change published as deltas", func() (bool, string) {
				ds := e.deltas(t, "big.example.")
				return len(ds) > 0 && ds[len(ds)-1].GetHeader().GetNsTtl() == 4321, fmt.Sprint(len(ds), " deltas")
			})
			if len(e.deltas(t, "big.example.")) < 2 {
				t.Log("all changes in one delta")
			}
			rev := b.published.Load()
			// A change after rev: a rewrite at rev must not contain it.
			updateRecords(t, e.st, "big", store.RecordOp{Put: rec("late", "late.big.example.", "192.0.2.99")})
			eventually(t, "the late delta", func() (bool, string) {
				ds := e.deltas(t, "big.example.")
				return len(ds) > 0 && slices.Contains(ids(ds[len(ds)-1].GetUpserts()), "late"), fmt.Sprint(len(ds), " deltas")
			})

			st := b.state("big.example.")
			st.fullMu.Lock()
			err := b.rewriteFromBase(context.Background(), "big.example.", st, rev)
			st.fullMu.Unlock()
			if err != nil {
				t.Fatalf("rewrite from the published snapshot: %v", err)
			}
			got, err := e.zoneSnapshot(t, "big.example.")
			if err != nil {
				t.Fatal(err)
			}
			if (got.GetRecordsObject() != "") != tt.wantObject {
				t.Errorf("rewritten snapshot in object %q", got.GetRecordsObject())
			}
			got.RecordsObject = ""
			sameZone(t, got, compileFromEtcd(t, b, e, "big.example.", rev))
			if in := recordIDs(got); in["late"] || in["soa1"] || in["r004"] || !in["r003"] {
				t.Errorf("rewritten: late %v, soa1 %v, r004 %v, r003 %v; want only r003", in["late"], in["soa1"], in["r004"], in["r003"])
			}
		})
	}
}

// TestRewriteAfterRestartReadsTheChainBack: a builder that recovered a
// zone's chain from what is published (restart, new leader) does not hold
// the deltas published before it started; its rewrite reads them back from
// the delta stream (and the glue of the base from the zone at the base's
// version) and still equals a compile from etcd. Without them in the
// stream it compiles the zone from etcd.
func TestRewriteAfterRestartReadsTheChainBack(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	var rs []*dnsv1.Record
	for i := range 8 {
		rs = append(rs, rec(fmt.Sprintf("r%d", i), fmt.Sprintf("h%d.big.example.", i), "192.0.2.1"))
	}
	putRecords(t, e.st, "big", rs...)
	_, stop := e.startDeltaBuilder(t, Config{DeltaChainMax: 1000, FullEvery: time.Hour})
	eventually(t, "full snapshot", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		return err == nil && len(z.GetRecords()) == 8, fmt.Sprint(err)
	})
	updateRecords(t, e.st, "big", store.RecordOp{Put: rec("r8", "h8.big.example.", "192.0.2.8")}, store.RecordOp{DeleteID: "r1"})
	eventually(t, "delta before the restart", func() (bool, string) {
		return len(e.deltas(t, "big.example.")) == 1, ""
	})
	updateRecords(t, e.st, "big", store.RecordOp{Put: rec("r2", "renamed.big.example.", "192.0.2.2")})
	eventually(t, "second delta before the restart", func() (bool, string) {
		return len(e.deltas(t, "big.example.")) == 2, ""
	})
	stop()
	putRecords(t, e.st, "big", rec("r9", "h9.big.example.", "192.0.2.9"))
	b, stop2 := e.startDeltaBuilder(t, Config{DeltaChainMax: 1000, FullEvery: time.Hour})
	eventually(t, "delta after restart", func() (bool, string) {
		return len(e.deltas(t, "big.example.")) == 3, ""
	})
	rewrite := func(b *Builder) (int64, error) {
		rev := b.published.Load()
		st := b.state("big.example.")
		st.fullMu.Lock()
		defer st.fullMu.Unlock()
		return rev, b.rewriteFromBase(context.Background(), "big.example.", st, rev)
	}
	rev, err := rewrite(b)
	if err != nil {
		t.Fatalf("rewrite after a restart: %v, want one from the snapshot and the stream", err)
	}
	got, err := e.zoneSnapshot(t, "big.example.")
	if err != nil {
		t.Fatal(err)
	}
	sameZone(t, got, compileFromEtcd(t, b, e, "big.example.", rev))

	// The deltas after the new base gone from the stream: from etcd.
	updateRecords(t, e.st, "big", store.RecordOp{Put: rec("r10", "h10.big.example.", "192.0.2.10")})
	eventually(t, "delta after the rewrite", func() (bool, string) {
		return len(e.deltas(t, "big.example.")) == 4, ""
	})
	stop2()
	putRecords(t, e.st, "big", rec("r11", "h11.big.example.", "192.0.2.11"))
	b3, _ := e.startDeltaBuilder(t, Config{DeltaChainMax: 1000, FullEvery: time.Hour})
	eventually(t, "delta after the second restart", func() (bool, string) {
		return len(e.deltas(t, "big.example.")) == 5, ""
	})
	s, err := e.js.Stream(context.Background(), snapshot.DeltaStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(context.Background(), jetstream.WithPurgeSubject(snapshot.DeltaSubject("big.example."))); err != nil {
		t.Fatal(err)
	}
	if _, err := rewrite(b3); !errors.Is(err, errNoBase) {
		t.Fatalf("rewrite without the deltas in the stream: %v, want errNoBase", err)
	}
}

// TestRecoveredChainCountsTowardsDeltaChainMax: the deltas published
// before a restart count towards the rewrite trigger of the builder that
// recovers the chain; before, the count started again from zero at every
// restart and a zone's chain could outgrow what the stream keeps.
func TestRecoveredChainCountsTowardsDeltaChainMax(t *testing.T) {
	e := newEnv(t, 0)
	createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	var rs []*dnsv1.Record
	for i := range 8 {
		rs = append(rs, rec(fmt.Sprintf("r%d", i), fmt.Sprintf("h%d.big.example.", i), "192.0.2.1"))
	}
	putRecords(t, e.st, "big", rs...)
	cfg := Config{DeltaChainMax: 3, FullEvery: time.Hour}
	_, stop := e.startDeltaBuilder(t, cfg)
	var full uint64
	eventually(t, "full snapshot", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		full = z.GetHeader().GetVersion()
		return err == nil && len(z.GetRecords()) == 8, fmt.Sprint(err)
	})
	for i := range 2 {
		updateRecords(t, e.st, "big", store.RecordOp{Put: rec(fmt.Sprintf("a%d", i), fmt.Sprintf("a%d.big.example.", i), "192.0.2.9")})
		eventually(t, "delta before the restart", func() (bool, string) {
			return len(e.deltas(t, "big.example.")) == i+1, ""
		})
	}
	stop()
	e.startDeltaBuilder(t, cfg)
	updateRecords(t, e.st, "big", store.RecordOp{Put: rec("a2", "a2.big.example.", "192.0.2.9")})
	eventually(t, "the third delta of the chain rewrites the full snapshot", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		if err != nil {
			return false, err.Error()
		}
		v := z.GetHeader().GetVersion()
		return v > full && len(z.GetRecords()) == 11, fmt.Sprintf("full snapshot at %d (was %d), %d records", v, full, len(z.GetRecords()))
	})
}
