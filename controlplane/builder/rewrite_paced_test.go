package builder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// TestSecondRewriteSplicesTheKeptEncoding: a rewrite whose base is in the
// object store keeps the encoding it put, and the next rewrite splices
// from it without reading the object back (here the object is gone, so a
// read would fail), still equal to a compile from etcd.
func TestSecondRewriteSplicesTheKeptEncoding(t *testing.T) {
	e := newEnv(t, 32<<10)
	createZone(t, e.st, "big", "acct1", "big.example.", dnsv1.ZoneStatus_ZONE_STATUS_ACTIVE)
	var rs []*dnsv1.Record
	for i := range 300 {
		rs = append(rs, &dnsv1.Record{Id: fmt.Sprintf("r%03d", i), Name: fmt.Sprintf("h%d.big.example.", i),
			Type: "TXT", Content: "\"text long enough that 300 of them do not fit in one small message\"", Ttl: 60})
	}
	putRecords(t, e.st, "big", rs...)
	b, _ := e.startDeltaBuilder(t, Config{DeltaChainMax: 1000, FullEvery: time.Hour})
	eventually(t, "full snapshot in the object store", func() (bool, string) {
		z, err := e.zoneSnapshot(t, "big.example.")
		return err == nil && len(z.GetRecords()) == 300 && z.GetRecordsObject() != "", fmt.Sprint(err)
	})
	st := b.state("big.example.")
	change := func(ops ...store.RecordOp) int64 {
		t.Helper()
		n := len(e.deltas(t, "big.example."))
		updateRecords(t, e.st, "big", ops...)
		eventually(t, "a delta", func() (bool, string) { return len(e.deltas(t, "big.example.")) > n, "" })
		return b.published.Load()
	}
	rewrite := func(rev int64) {
		t.Helper()
		st.fullMu.Lock()
		err := b.rewriteFromBase(context.Background(), "big.example.", st, rev)
		st.fullMu.Unlock()
		if err == nil {
			b.mu.Lock()
			st.fullVersion = uint64(rev) // as publishFull records it
			b.mu.Unlock()
		}
		if err != nil {
			t.Fatalf("rewrite at %d: %v", rev, err)
		}
		got, err := e.zoneSnapshot(t, "big.example.")
		if err != nil {
			t.Fatal(err)
		}
		got.RecordsObject = ""
		sameZone(t, got, compileFromEtcd(t, b, e, "big.example.", rev))
	}

	kept := func() keptEncoding {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.kept["big.example."]
	}
	rev := change(store.RecordOp{Put: rec("n1", "new1.big.example.", "192.0.2.1")}, store.RecordOp{DeleteID: "r007"})
	rewrite(rev)
	if k := kept(); k.version != uint64(rev) || k.data == nil {
		t.Fatalf("kept encoding at version %d (%d bytes), want %d", k.version, len(k.data), rev)
	}
	objs, err := e.js.ObjectStore(context.Background(), snapshot.ObjectBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := objs.Delete(context.Background(), snapshot.ZoneKey("big.example.")); err != nil {
		t.Fatal(err)
	}
	rev = change(store.RecordOp{Put: &dnsv1.Record{Id: "r001", Name: "h1.big.example.", Type: "TXT", Content: "\"changed\"", Ttl: 300}})
	rewrite(rev)
	if k := kept(); k.version != uint64(rev) || k.spare == nil {
		t.Fatalf("kept encoding at version %d, spare %d bytes; want version %d and the previous buffer kept", k.version, cap(k.spare), rev)
	}
}

// TestPacedObjectPutRenewsTheFence: a zone object sent slower than one
// proven window allows (steps of 24 KiB at 96 KiB/s: ~5 s against the 2 s
// lease) is written whole, proving the lease between steps, and it is
// Seal's signed envelope byte for byte.
func TestPacedObjectPutRenewsTheFence(t *testing.T) {
	pace, step := objectPace, objectStep
	objectPace, objectStep = 96<<10, 24<<10
	t.Cleanup(func() { objectPace, objectStep = pace, step })
	e := newEnv(t, 32<<10)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := snapshot.NewSigner(priv)
	b, _ := e.startDeltaBuilder(t, Config{Signer: signer, DeltaChainMax: 1000, FullEvery: time.Hour})
	// Leading, with the buckets open: the first publication is done.
	eventually(t, "leadership", func() (bool, string) { return b.fence.Load() != nil && b.published.Load() > 0, "" })
	f := b.fence.Load()

	data := bytes.Repeat([]byte("a zone's records "), 30000) // 510 kB
	const name = "paced.example."
	h := &snapshot.ZoneHeader{Name: name, ZoneId: "paced", Version: 7}
	start := time.Now()
	if err := b.putObjectPaced(context.Background(), name, h, data, 1); err != nil {
		t.Fatalf("paced put: %v", err)
	}
	took := time.Since(start)
	if took < 4*time.Second {
		t.Fatalf("paced put took %v, want about 5 s (96 KiB/s)", took)
	}
	f.mu.Lock()
	until := f.until
	f.mu.Unlock()
	if !until.After(start.Add(f.ttl)) {
		t.Fatalf("the fence's proven window ends %v after the start: never renewed past the first TTL", until.Sub(start))
	}
	objs, err := e.js.ObjectStore(context.Background(), snapshot.ObjectBucket)
	if err != nil {
		t.Fatal(err)
	}
	got, err := objs.GetBytes(context.Background(), snapshot.ZoneKey(name))
	if err != nil {
		t.Fatal(err)
	}
	want, err := signer.Seal(snapshot.ObjectBinding(snapshot.ZoneKey(name)), data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("object of %d bytes differs from the sealed %d bytes", len(got), len(want))
	}
}
