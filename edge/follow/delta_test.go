package follow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/edge/internal/natstest"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// deltaStream creates the delta stream the way the builder does.
func deltaStream(t *testing.T, pub *natstest.Publisher) jetstream.Stream {
	t.Helper()
	s, err := pub.JS.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name: snapshot.DeltaStream, Subjects: []string{snapshot.DeltaSubjectPrefix + ">"},
		MaxAge: time.Hour, MaxMsgsPerSubject: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// delta builds a delta of name from→to adding the records of text (ids
// "<to>-<i>") and deleting ids.
func delta(t *testing.T, name string, from, to uint64, text string, deletes ...string) *snapshot.ZoneDelta {
	t.Helper()
	d := &snapshot.ZoneDelta{ZoneId: "id-" + name[:len(name)-1], Name: name, FromVersion: from, ToVersion: to, Deletes: deletes}
	if text != "" {
		d.Upserts = zonetest.Zone(t, zonetest.Header(name, to), text).Records
		for i, r := range d.Upserts {
			r.Id = fmt.Sprintf("%d-%d", to, i)
		}
	}
	return d
}

func publishDelta(t *testing.T, pub *natstest.Publisher, d *snapshot.ZoneDelta) {
	t.Helper()
	b, err := snapshot.MarshalDelta(d)
	if err != nil {
		t.Fatal(err)
	}
	subject := snapshot.DeltaSubject(d.GetName())
	if b, err = pub.Signer.Seal(snapshot.DeltaBinding(subject), b); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.JS.Publish(context.Background(), snapshot.DeltaSubject(d.GetName()), b); err != nil {
		t.Fatal(err)
	}
}

func hasName(zones *zonecache.Set, zone, name string) bool {
	z := zones.Get(zone)
	return z != nil && z.Node(name) != nil
}

func TestFollowerAppliesDeltasInOrderAndIgnoresDuplicates(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	deltaStream(t, pub)
	pub.PutZoneObject(zone(t, "big.test.", 10))
	// Deltas published before the edge starts: it replays them after the
	// full snapshot, before it reports ready.
	publishDelta(t, pub, delta(t, "big.test.", 10, 12, "x IN A 192.0.2.2"))
	publishDelta(t, pub, delta(t, "big.test.", 10, 12, "x IN A 192.0.2.2")) // at-least-once: again
	publishDelta(t, pub, delta(t, "big.test.", 12, 15, "y IN A 192.0.2.3", "12-0"))
	publishDelta(t, pub, delta(t, "other.test.", 1, 2, "z IN A 192.0.2.4")) // zone not held

	f, zones, _ := startFollower(t, srv.URL())
	select {
	case <-f.Ready():
	case <-time.After(wait):
		t.Fatal("follower never ready")
	}
	if !hasVersion(zones, "big.test.", 15)() || hasName(zones, "big.test.", "x.big.test.") || !hasName(zones, "big.test.", "y.big.test.") {
		t.Fatalf("after ready: version %d, x %v, y %v", f.heldVersion("big.test."),
			hasName(zones, "big.test.", "x.big.test."), hasName(zones, "big.test.", "y.big.test."))
	}
	if n := testutil.ToFloat64(f.m.updates.WithLabelValues(deltasKey, "duplicate")); n != 1 {
		t.Errorf("%v duplicates counted, want 1", n)
	}
	if zones.Get("other.test.") != nil {
		t.Error("a delta created a zone the edge does not hold")
	}

	// Live: applied as they come; one already held changes nothing.
	publishDelta(t, pub, delta(t, "big.test.", 15, 20, "w IN A 192.0.2.5"))
	publishDelta(t, pub, delta(t, "big.test.", 12, 15, "stale IN A 192.0.2.6"))
	natstest.Eventually(t, wait, "live delta", hasVersion(zones, "big.test.", 20))
	publishDelta(t, pub, delta(t, "big.test.", 20, 21, "v IN A 192.0.2.7"))
	natstest.Eventually(t, wait, "next live delta", hasVersion(zones, "big.test.", 21))
	if hasName(zones, "big.test.", "stale.big.test.") || !hasName(zones, "big.test.", "w.big.test.") {
		t.Error("duplicate delta applied or live delta lost")
	}
	// A full snapshot older than the deltas applied is ignored.
	pub.PutZone(zone(t, "big.test.", 18))
	publishDelta(t, pub, delta(t, "big.test.", 21, 22, ""))
	natstest.Eventually(t, wait, "delta after a stale full snapshot", hasVersion(zones, "big.test.", 22))
	if !hasName(zones, "big.test.", "v.big.test.") {
		t.Error("stale full snapshot replaced newer deltas")
	}
}

// heldFollower is a follower, not running, that holds zone z and has the
// delta stream open: for calling handleDelta directly.
func heldFollower(t *testing.T, url string, z *snapshot.Zone, retry time.Duration) (*Follower, *zonecache.Set) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	zones := zonecache.NewSet()
	held, err := zonecache.Build(z)
	if err != nil {
		t.Fatal(err)
	}
	zones.Put(held)
	f, err := New(Config{Conn: nc, Zones: zones, Accounts: zonecache.NewAccounts(), Log: zaptest.NewLogger(t), RetryWait: retry})
	if err != nil {
		t.Fatal(err)
	}
	if f.stream, err = f.js.Stream(context.Background(), snapshot.DeltaStream); err != nil {
		t.Fatal(err)
	}
	return f, zones
}

func TestFollowerReloadsOnGapAndReplaysDeltas(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	deltaStream(t, pub)
	pub.PutZone(zone(t, "big.test.", 12))
	publishDelta(t, pub, delta(t, "big.test.", 12, 15, "a IN A 192.0.2.1"))
	publishDelta(t, pub, delta(t, "big.test.", 15, 18, "b IN A 192.0.2.2"))

	f, zones := heldFollower(t, srv.URL(), zone(t, "big.test.", 5), 0)
	ctx := context.Background()
	// The edge holds version 5 and sees 15→18: it missed something.
	b, _ := snapshot.MarshalDelta(delta(t, "big.test.", 15, 18, "b IN A 192.0.2.2"))
	f.handleDelta(ctx, snapshot.DeltaSubject("big.test."), b, time.Now())
	if v := f.heldVersion("big.test."); v != 18 || !hasName(zones, "big.test.", "a.big.test.") || !hasName(zones, "big.test.", "b.big.test.") {
		t.Fatalf("after the gap: version %d, a %v, b %v", v, hasName(zones, "big.test.", "a.big.test."), hasName(zones, "big.test.", "b.big.test."))
	}
	if n := testutil.ToFloat64(f.m.updates.WithLabelValues(deltasKey, "gap")); n != 1 {
		t.Errorf("%v gaps counted", n)
	}
	// A delta that applies to nothing held (its full snapshot missing from
	// the bucket, its predecessors from the stream) leaves the zone served
	// as it is.
	b, _ = snapshot.MarshalDelta(delta(t, "big.test.", 30, 31, "c IN A 192.0.2.3"))
	publishDelta(t, pub, delta(t, "big.test.", 30, 31, "c IN A 192.0.2.3"))
	f.handleDelta(ctx, snapshot.DeltaSubject("big.test."), b, time.Now())
	if v := f.heldVersion("big.test."); v != 18 {
		t.Fatalf("after an unrecoverable gap: version %d, want 18 kept", v)
	}
	// Garbage on the stream is counted and skipped.
	f.handleDelta(ctx, snapshot.DeltaSubject("big.test."), []byte{0xff, 0x01}, time.Now())
	f.handleDelta(ctx, snapshot.DeltaSubject("other.test."), b, time.Now())
	if n := testutil.ToFloat64(f.m.updates.WithLabelValues(deltasKey, "failed")); n != 2 {
		t.Errorf("%v failures counted, want 2", n)
	}
}

// A zone whose stream lost the deltas after its full snapshot cannot catch
// up until the next full snapshot: its queued deltas must not each try
// again (each try opens a consumer on the stream).
func TestRepeatedGapsOfAZoneThatCannotCatchUpArePaced(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	deltaStream(t, pub)
	pub.PutZone(zone(t, "big.test.", 12))
	// 12→15 is gone from the stream; 15→18 is left.
	publishDelta(t, pub, delta(t, "big.test.", 15, 18, "b IN A 192.0.2.2"))

	const retry = 200 * time.Millisecond
	f, _ := heldFollower(t, srv.URL(), zone(t, "big.test.", 12), retry)
	ctx := context.Background()
	unrecoverable := func() float64 {
		return testutil.ToFloat64(f.m.updates.WithLabelValues(deltasKey, "unrecoverable"))
	}
	paused := func() float64 { return testutil.ToFloat64(f.m.updates.WithLabelValues(deltasKey, "gap_paused")) }
	b, _ := snapshot.MarshalDelta(delta(t, "big.test.", 18, 19, "c IN A 192.0.2.3"))
	begin := time.Now()
	for range 50 {
		f.handleDelta(ctx, snapshot.DeltaSubject("big.test."), b, time.Now())
	}
	if time.Since(begin) < retry {
		if n := unrecoverable(); n != 1 {
			t.Fatalf("50 queued deltas of a zone that cannot catch up tried %v times, want 1", n)
		}
		if n := paused(); n != 49 {
			t.Fatalf("%v gaps paused, want 49", n)
		}
	}
	if v := f.heldVersion("big.test."); v != 12 {
		t.Fatalf("version %d served, want 12 (the full snapshot)", v)
	}
	// After the pause it tries again.
	time.Sleep(retry + 50*time.Millisecond)
	f.handleDelta(ctx, snapshot.DeltaSubject("big.test."), b, time.Now())
	if n := unrecoverable(); n < 2 {
		t.Fatalf("no new try after the pause (%v)", n)
	}
	// A new full snapshot (a version held that changed) may catch up at
	// once, pause or not.
	publishDelta(t, pub, delta(t, "big.test.", 20, 21, "d IN A 192.0.2.4"))
	pub.PutZone(zone(t, "big.test.", 20))
	if err := f.catchUp(ctx, "big.test."); err != nil {
		t.Fatal(err)
	}
	b, _ = snapshot.MarshalDelta(delta(t, "big.test.", 25, 26, "e IN A 192.0.2.5"))
	before := paused()
	f.handleDelta(ctx, snapshot.DeltaSubject("big.test."), b, time.Now())
	if n := paused(); n != before {
		t.Fatalf("a gap after a new full snapshot was paused (%v → %v)", before, n)
	}
}

// The bucket watch may install a full snapshot after the delta consumer
// passed the deltas that follow it: they are replayed then.
func TestFollowerReplaysDeltasAfterALateFullSnapshot(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	deltaStream(t, pub)
	pub.PutZone(zone(t, "big.test.", 10))
	f, zones, _ := startFollower(t, srv.URL())
	select {
	case <-f.Ready():
	case <-time.After(wait):
		t.Fatal("follower never ready")
	}
	publishDelta(t, pub, delta(t, "big.test.", 20, 25, "late IN A 192.0.2.9"))
	natstest.Eventually(t, wait, "gap seen", func() bool {
		return testutil.ToFloat64(f.m.updates.WithLabelValues(deltasKey, "gap")) == 1
	})
	if !hasVersion(zones, "big.test.", 10)() {
		t.Fatal("zone changed without its full snapshot")
	}
	pub.PutZone(zone(t, "big.test.", 20))
	natstest.Eventually(t, wait, "delta replayed after the full snapshot", hasVersion(zones, "big.test.", 25))
	if !hasName(zones, "big.test.", "late.big.test.") {
		t.Error("replayed delta lost its record")
	}
}

func TestFollowerReadyWithoutDeltaStream(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	pub := natstest.NewPublisher(t, srv.URL())
	pub.PutZone(zone(t, "small.test.", 1))
	f, zones, _ := startFollower(t, srv.URL())
	select {
	case <-f.Ready():
	case <-time.After(wait):
		t.Fatal("follower never ready")
	}
	// The stream appears later (a zone grew large): its deltas apply.
	deltaStream(t, pub)
	publishDelta(t, pub, delta(t, "small.test.", 1, 2, "new IN A 192.0.2.1"))
	natstest.Eventually(t, wait, "delta on a stream created after start", hasVersion(zones, "small.test.", 2))
}
