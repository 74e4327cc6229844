package follow

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/zonegrid/zonegrid/edge/internal/natstest"
	"github.com/zonegrid/zonegrid/edge/internal/zonetest"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/natsauth"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

func newSigner(t *testing.T) *snapshot.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot.NewSigner(priv)
}

// startFollowerWith runs a follower on its own connection (opts) with cfg's
// Verifier.
func startFollowerWith(t *testing.T, url string, v *snapshot.Verifier, opts ...nats.Option) (*Follower, *zonecache.Set, *zonecache.Accounts) {
	t.Helper()
	nc, err := nats.Connect(url, append(opts, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	zones, accts := zonecache.NewSet(), zonecache.NewAccounts()
	f := runFollower(t, Config{Conn: nc, Zones: zones, Accounts: accts, Log: zaptest.NewLogger(t),
		RetryWait: 100 * time.Millisecond, Verifier: v})
	select {
	case <-f.Ready():
	case <-time.After(wait):
		t.Fatal("follower never ready")
	}
	return f, zones, accts
}

// The edge's NATS user, with natsauth's permissions on a real server, can
// follow everything (KV watches, the object store, the delta consumer and
// its replays) and write nothing.
func TestEdgeCredentialFollowsButCannotWrite(t *testing.T) {
	srv := natstest.StartSecure(t, t.TempDir())
	t.Cleanup(srv.Stop)
	// The control plane's user creates the buckets and the delta stream
	// and publishes: its permissions suffice.
	pub := natstest.NewPublisher(t, srv.URL(), srv.Users.Option(t, natsauth.ControlPlane))
	deltaStream(t, pub)
	pub.PutZone(zone(t, "small.test.", 3))
	pub.PutZoneObject(zone(t, "big.test.", 10))
	pub.PutAccount(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 1, EnforceDnsOnly: true})
	publishDelta(t, pub, delta(t, "big.test.", 10, 11, "d11 IN A 192.0.2.11\n"))

	_, zones, accts := startFollowerWith(t, srv.URL(), nil, srv.Users.Option(t, natsauth.Edge))
	natstest.Eventually(t, wait, "zones, objects, deltas and accounts followed", func() bool {
		return hasVersion(zones, "small.test.", 3)() && hasVersion(zones, "big.test.", 11)() &&
			hasName(zones, "big.test.", "d11.big.test.") && accts.EnforceDNSOnly("acct-1")
	})
	// A gap makes the edge reload the zone and replay its deltas
	// (GetLastMsgForSubject, a filtered consumer): allowed too.
	publishDelta(t, pub, delta(t, "big.test.", 12, 13, "d13 IN A 192.0.2.13\n"))
	pub.PutZone(zone(t, "big.test.", 12))
	natstest.Eventually(t, wait, "replay after a gap", func() bool { return hasVersion(zones, "big.test.", 13)() })

	nc, err := nats.Connect(srv.URL(), srv.Users.Option(t, natsauth.Edge))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, snapshot.ZonesBucket)
	if err != nil {
		t.Fatalf("edge opens the zones bucket: %v", err)
	}
	if _, err := kv.Get(ctx, "small.test"); err != nil {
		t.Fatalf("edge reads a zone: %v", err)
	}
	accounts, err := js.KeyValue(ctx, snapshot.AccountsBucket)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := js.ObjectStore(ctx, snapshot.ObjectBucket)
	if err != nil {
		t.Fatalf("edge opens the object store: %v", err)
	}
	forged, _ := snapshot.MarshalZone(zone(t, "small.test.", 99))
	writes := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"put a zone snapshot", func(ctx context.Context) error { _, err := kv.Put(ctx, "small.test", forged); return err }},
		{"delete a zone", func(ctx context.Context) error { return kv.Delete(ctx, "small.test") }},
		{"purge a zone", func(ctx context.Context) error { return kv.Purge(ctx, "small.test") }},
		{"put account settings", func(ctx context.Context) error { _, err := accounts.Put(ctx, "acct-1", forged); return err }},
		{"put into the object store", func(ctx context.Context) error {
			_, err := objs.Put(ctx, jetstream.ObjectMeta{Name: "big.test"}, bytes.NewReader(forged))
			return err
		}},
		{"delete an object", func(ctx context.Context) error { return objs.Delete(ctx, "big.test") }},
		{"publish a delta", func(ctx context.Context) error {
			_, err := js.Publish(ctx, snapshot.DeltaSubject("big.test."), forged)
			return err
		}},
		{"delete the delta stream", func(ctx context.Context) error { return js.DeleteStream(ctx, snapshot.DeltaStream) }},
		{"delete the zones bucket", func(ctx context.Context) error { return js.DeleteKeyValue(ctx, snapshot.ZonesBucket) }},
		{"purge the delta stream", func(ctx context.Context) error {
			s, err := js.Stream(ctx, snapshot.DeltaStream)
			if err != nil {
				return err
			}
			return s.Purge(ctx)
		}},
		{"change the zones bucket", func(ctx context.Context) error {
			_, err := js.UpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: snapshot.ZonesBucket, History: 5})
			return err
		}},
		{"create another stream", func(ctx context.Context) error {
			_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "evil", Subjects: []string{"evil.>"}})
			return err
		}},
		{"publish on a core subject", func(context.Context) error {
			// Core publishes are fire and forget: the violation comes back
			// as an asynchronous error, so ask for a reply instead.
			_, err := nc.Request("$KV."+snapshot.ZonesBucket+".small.test", forged, 2*time.Second)
			return err
		}},
	}
	for _, w := range writes {
		t.Run("edge cannot "+w.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if err := w.do(ctx); err == nil {
				t.Fatalf("%s with the edge credential succeeded", w.name)
			}
		})
	}
	// Nothing changed.
	if !hasVersion(zones, "small.test.", 3)() || !hasVersion(zones, "big.test.", 13)() {
		t.Fatalf("zones changed after the edge's writes were refused")
	}
	e, err := kv.Get(ctx, "small.test")
	if err != nil || !bytes.Equal(e.Value(), mustMarshal(t, zone(t, "small.test.", 3))) {
		t.Fatalf("zone value changed in NATS: %v", err)
	}
}

func mustMarshal(t *testing.T, z *snapshot.Zone) []byte {
	t.Helper()
	b, err := snapshot.MarshalZone(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A follower with trusted keys drops every value whose signature is
// missing or wrong, counts it, and keeps serving the version it holds;
// the next correctly signed value still applies.
func TestVerifyingFollowerKeepsVersionOnForgedValues(t *testing.T) {
	srv := natstest.Start(t, t.TempDir(), 0)
	t.Cleanup(srv.Stop)
	signer, attacker := newSigner(t), newSigner(t)
	v, err := snapshot.NewVerifier(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pub := natstest.NewPublisher(t, srv.URL())
	pub.Signer = signer
	deltaStream(t, pub)
	pub.PutZone(zone(t, "a.test.", 3))
	pub.PutZone(zone(t, "b.test.", 7))
	pub.PutZoneObject(zone(t, "big.test.", 10))
	pub.PutAccount(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 1})
	f, zones, accts := startFollowerWith(t, srv.URL(), v)
	if !hasVersion(zones, "a.test.", 3)() || !hasVersion(zones, "big.test.", 10)() {
		t.Fatal("signed zones not loaded")
	}
	ctx := context.Background()
	forgedZone := zonetest.Zone(t, zonetest.Header("a.test.", 9), "www IN A 203.0.113.66\n")
	forged := mustMarshal(t, forgedZone)
	byAttacker, _ := attacker.Seal(snapshot.ZoneBinding("a.test"), forged)
	// b.test's genuine value (version 7), replayed under a.test's key.
	bEntry, err := pub.Zones.Get(ctx, "b.test")
	if err != nil {
		t.Fatal(err)
	}
	// A genuine value of a.test with its payload swapped.
	sealed, _ := signer.Seal(snapshot.ZoneBinding("a.test"), mustMarshal(t, zone(t, "a.test.", 4)))
	tampered := bytes.Replace(sealed, []byte{192, 0, 2, 1}, []byte{203, 0, 113, 66}, 1)
	forgedDelta, _ := snapshot.MarshalDelta(delta(t, "big.test.", 10, 11, "evil IN A 203.0.113.66\n"))
	otherZoneDelta, _ := signer.Seal(snapshot.DeltaBinding(snapshot.DeltaSubject("other.test.")),
		mustMarshal2(t, delta(t, "big.test.", 10, 11, "evil IN A 203.0.113.66\n")))
	forgedAccount, _ := snapshot.MarshalAccount(&snapshot.Account{Format: snapshot.FormatVersion, AccountId: "acct-1", Version: 9, EnforceDnsOnly: true})

	// Signed objects of big.test whose records are indexed while they
	// arrive (several decoding chunks, the forged record first) before
	// the signature at their end fails: none may be served.
	var lines strings.Builder
	lines.WriteString("evil IN A 203.0.113.66\n")
	for i := range 40000 {
		fmt.Fprintf(&lines, "h%d IN A 192.0.2.%d\n", i, i%250)
	}
	bigForged := mustMarshal(t, zonetest.Zone(t, zonetest.Header("big.test.", 20), lines.String()))
	objectBinding := snapshot.ObjectBinding("big.test")
	bigSealed, _ := signer.Seal(objectBinding, bigForged)
	bigTampered := bytes.Replace(bigSealed, []byte{192, 0, 2, 7}, []byte{203, 0, 113, 66}, 1)
	bigByAttacker, _ := attacker.Seal(objectBinding, bigForged)
	bigTruncated := bigSealed[:len(bigSealed)-len(bigForged)/3]
	putObject := func(obj []byte) {
		if _, err := pub.Objects.Put(ctx, jetstream.ObjectMeta{Name: "big.test"}, bytes.NewReader(obj)); err != nil {
			t.Fatal(err)
		}
		ptr, _ := snapshot.MarshalZone(&snapshot.Zone{Header: zonetest.Header("big.test.", 20), RecordsObject: "big.test"})
		sealed, _ := signer.Seal(snapshot.ZoneBinding("big.test"), ptr)
		pub.PutZoneBytes("big.test", sealed)
	}

	rejected := func(bucket, reason string) float64 {
		return testutil.ToFloat64(f.m.rejected.WithLabelValues(bucket, reason))
	}
	steps := []struct {
		name           string
		do             func()
		bucket, reason string
	}{
		{"unsigned zone value", func() { pub.PutZoneBytes("a.test", forged) }, snapshot.ZonesBucket, "unsigned"},
		{"zone signed by an untrusted key", func() { pub.PutZoneBytes("a.test", byAttacker) }, snapshot.ZonesBucket, "unknown_key"},
		{"another zone's signed value replayed under this key", func() { pub.PutZoneBytes("a.test", bEntry.Value()) }, snapshot.ZonesBucket, "bad_signature"},
		{"tampered payload", func() { pub.PutZoneBytes("a.test", tampered) }, snapshot.ZonesBucket, "bad_signature"},
		{"raw delete", func() {
			if err := pub.Zones.Delete(ctx, "a.test"); err != nil {
				t.Fatal(err)
			}
		}, snapshot.ZonesBucket, "unsigned"},
		{"raw purge", func() {
			if err := pub.Zones.Purge(ctx, "a.test"); err != nil {
				t.Fatal(err)
			}
		}, snapshot.ZonesBucket, "unsigned"},
		{"unsigned account settings", func() {
			if _, err := pub.Accts.Put(ctx, "acct-1", forgedAccount); err != nil {
				t.Fatal(err)
			}
		}, snapshot.AccountsBucket, "unsigned"},
		{"unsigned delta", func() {
			if _, err := pub.JS.Publish(ctx, snapshot.DeltaSubject("big.test."), forgedDelta); err != nil {
				t.Fatal(err)
			}
		}, snapshot.DeltaStream, "unsigned"},
		{"delta signed for another zone", func() {
			if _, err := pub.JS.Publish(ctx, snapshot.DeltaSubject("big.test."), otherZoneDelta); err != nil {
				t.Fatal(err)
			}
		}, snapshot.DeltaStream, "bad_signature"},
		{"signed pointer to an unsigned object", func() {
			if _, err := pub.Objects.Put(ctx, jetstream.ObjectMeta{Name: "big.test"}, bytes.NewReader(mustMarshal(t, zonetest.Zone(t, zonetest.Header("big.test.", 20), "evil IN A 203.0.113.66\n")))); err != nil {
				t.Fatal(err)
			}
			ptr, _ := snapshot.MarshalZone(&snapshot.Zone{Header: zonetest.Header("big.test.", 20), RecordsObject: "big.test"})
			sealed, _ := signer.Seal(snapshot.ZoneBinding("big.test"), ptr)
			pub.PutZoneBytes("big.test", sealed)
		}, snapshot.ZonesBucket, "unsigned"},
		{"large object tampered after signing", func() { putObject(bigTampered) }, snapshot.ZonesBucket, "bad_signature"},
		{"large object signed by an untrusted key", func() { putObject(bigByAttacker) }, snapshot.ZonesBucket, "unknown_key"},
		{"large object cut short", func() { putObject(bigTruncated) }, snapshot.ZonesBucket, "malformed"},
	}
	for _, s := range steps {
		t.Run("drops "+s.name, func(t *testing.T) {
			before := rejected(s.bucket, s.reason)
			s.do()
			natstest.Eventually(t, wait, "rejection counted", func() bool { return rejected(s.bucket, s.reason) > before })
			if !hasVersion(zones, "a.test.", 3)() || !hasName(zones, "a.test.", "www.a.test.") {
				t.Fatalf("a.test. changed: %v", zones.Get("a.test."))
			}
			if !hasVersion(zones, "big.test.", 10)() || hasName(zones, "big.test.", "evil.big.test.") {
				t.Fatalf("big.test. changed")
			}
			if accts.EnforceDNSOnly("acct-1") {
				t.Fatalf("forged account settings applied")
			}
		})
	}
	// Genuine values still apply, including a signed tombstone.
	pub.PutZone(zone(t, "a.test.", 5))
	natstest.Eventually(t, wait, "signed update applied", hasVersion(zones, "a.test.", 5))
	tomb, _ := snapshot.MarshalZone(&snapshot.Zone{Header: zonetest.Header("b.test.", 8), Tombstone: true})
	sealedTomb, _ := signer.Seal(snapshot.ZoneBinding("b.test"), tomb)
	pub.PutZoneBytes("b.test", sealedTomb)
	natstest.Eventually(t, wait, "signed tombstone drops the zone", func() bool { return zones.Get("b.test.") == nil })
}

func mustMarshal2(t *testing.T, d *snapshot.ZoneDelta) []byte {
	t.Helper()
	b, err := snapshot.MarshalDelta(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
