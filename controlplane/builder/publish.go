package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// errUnpublishable marks a zone that cannot be compiled however often we
// retry (e.g. corrupt stored data): it is skipped so the others still flow.
var errUnpublishable = errors.New("zone cannot be published")

// maxInline is the largest encoded zone put directly into a KV value: the
// server's max payload less room for the subject and JetStream headers.
func (b *Builder) maxInline() int64 {
	mp := b.nc.MaxPayload()
	return mp - min(64<<10, mp/8)
}

// published says what publishName put: the id of the zone serving the
// name ("" when none does) and how many records it has.
type published struct {
	zoneID  string
	records int
	// ns is the published apex NS set and glue (glueFingerprint).
	ns []string
}

// publishName compiles the zone serving name at rev and puts it in the
// zones bucket, or deletes the key when no zone serves the name. Callers
// hold the name's zoneState.fullMu (see publishFull).
func (b *Builder) publishName(ctx context.Context, name string, rev int64) (published, error) {
	z, d, err := b.compileInput(ctx, name, rev)
	if err != nil {
		return published{}, err
	}
	if z == nil {
		if err := b.unpublish(ctx, name, rev); err != nil {
			return published{}, err
		}
		if err := b.dropObject(ctx, name); err != nil {
			return published{}, err
		}
		b.m.zonesPublished.WithLabelValues("deleted").Inc()
		b.log.Debug("zone unpublished", zap.String("zone", name), zap.Int64("revision", rev))
		return published{}, nil
	}
	res := published{zoneID: z.GetId(), records: len(d.recs)}
	snap, bad, err := b.compileSnapshot(ctx, z, d, rev)
	if err != nil {
		return published{}, err
	}
	res.ns = glueFingerprint(snap.GetHeader(), z)
	for _, e := range bad {
		b.m.badRecords.Inc()
		b.log.Warn("record skipped: does not compile", zap.String("zone", name), zap.String("zone_id", z.GetId()), zap.Error(e))
	}
	d.recs, d.packed = nil, nil // a million decoded records: let them go before encoding
	if err := b.putZone(ctx, name, snap); err != nil {
		return published{}, err
	}
	return res, nil
}

// compileSnapshot compiles zone z with its data d at rev (the transfer
// header's account objects are read from etcd, the only read left when z
// has a transfer configuration).
func (b *Builder) compileSnapshot(ctx context.Context, z *dnsv1.Zone, d zoneData, rev int64) (*snapshot.Zone, []error, error) {
	xfr, err := b.transferHeaderFrom(ctx, z, d.in, d.out, rev)
	if err != nil {
		return nil, nil, err
	}
	b.traceStage(ctx, stageRead)
	snap, bad := compilePacked(z, d.zs, d.recs, d.packed, rev, b.opts)
	snap.Header.Dnssec = dnssecHeader(d.ds)
	snap.Header.Transfer = xfr
	return snap, bad, nil
}

// compileInput returns the zone that serves name at rev (nil: none) and
// its data: from the zone cache when it holds them at rev (cache.go),
// else read from etcd, and then kept in the cache for the next compile.
func (b *Builder) compileInput(ctx context.Context, name string, rev int64) (*dnsv1.Zone, zoneData, error) {
	if z, d, ok := b.cachedInput(ctx, name, rev); ok {
		return z, d, nil
	}
	// The zone's data is read while serving decides which zone serves the
	// name, guessing it is the one published last (nearly always): one
	// etcd round trip less on every change (docs/BENCHMARKS.md,
	// "Propagation"). A wrong guess is read again.
	guess := b.publishedZoneID(name)
	var ahead func() (zoneData, error)
	if guess != "" {
		actx, cancel := context.WithCancel(ctx)
		defer cancel()
		ahead = b.readZoneData(actx, guess, rev)
	}
	z, err := b.serving(ctx, name, rev)
	if err != nil || z == nil {
		return nil, zoneData{}, err
	}
	if ahead == nil || z.GetId() != guess {
		ahead = b.readZoneData(ctx, z.GetId(), rev)
	}
	d, err := ahead()
	if err != nil {
		return nil, zoneData{}, err
	}
	b.cache.keepData(rev, z.GetId(), d, d.keys)
	d.keys = nil
	return z, d, nil
}

// zoneData is what a compile reads of a zone besides the zone itself.
type zoneData struct {
	zs   *dnsv1.ZoneSettings
	recs []*dnsv1.Record
	// keys are the records' keys (store.ZoneRecordsKeyed), for the cache;
	// nil when they come from it.
	keys []string
	// packed are the records compiled, from the cache (compilePacked).
	packed []*snapshot.Record
	ds     *dnsv1.DnssecState
	in     *dnsv1.IncomingTransfer
	out    *dnsv1.OutgoingTransfer
}

// readZoneData starts reading the data of zone zoneID at rev, the reads
// in parallel (independent: one round trip instead of four), and returns
// a function waiting for them.
func (b *Builder) readZoneData(ctx context.Context, zoneID string, rev int64) func() (zoneData, error) {
	var d zoneData
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { d.zs, err = b.st.ZoneSettingsAt(gctx, zoneID, rev); return err })
	g.Go(func() (err error) { d.recs, d.keys, err = b.st.ZoneRecordsKeyed(gctx, zoneID, rev); return err })
	g.Go(func() (err error) { d.ds, err = b.st.DnssecAt(gctx, zoneID, rev); return err })
	g.Go(func() (err error) {
		if d.in, d.out, err = b.st.TransferConfigAt(gctx, zoneID, rev); err != nil {
			return fmt.Errorf("transfer header of zone %s: %w", zoneID, err)
		}
		return nil
	})
	return func() (zoneData, error) {
		err := g.Wait()
		out := d
		d = zoneData{} // the caller decides how long the records live
		return out, err
	}
}

// publishedZoneID is the zone last published for name, "" when none is
// known.
func (b *Builder) publishedZoneID(name string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.zstate[name]; st != nil && !st.gone {
		return st.zoneID
	}
	return ""
}

// putZone encodes, signs and puts a compiled zone: in the KV value when it
// fits in a message, else in the object store with a pointer in the KV
// value. Callers hold the name's zoneState.fullMu.
func (b *Builder) putZone(ctx context.Context, name string, snap *snapshot.Zone) error {
	data, err := snapshot.MarshalZone(snap)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnpublishable, err)
	}
	return b.putEncoded(ctx, name, snap.GetHeader(), data, len(snap.GetRecords()))
}

// putEncoded puts data, the encoded zone with header h and that many
// records (putZone).
func (b *Builder) putEncoded(ctx context.Context, name string, h *snapshot.ZoneHeader, data []byte, records int) error {
	key := snapshot.ZoneKey(name)
	rev := int64(h.GetVersion())
	inline, err := b.cfg.Signer.Seal(snapshot.ZoneBinding(key), data)
	if err != nil {
		return err
	}
	if int64(len(inline)) <= b.maxInline() {
		b.traceStage(ctx, stageEncoded)
		if err := b.guarded(ctx, func(ctx context.Context) error {
			b.traceStage(ctx, stageFenced)
			_, err := b.zones.Put(ctx, key, inline)
			return err
		}); err != nil {
			return fmt.Errorf("put zone snapshot %s: %w", key, err)
		}
		b.traceStage(ctx, stagePut)
		if err := b.dropObject(ctx, name); err != nil {
			return err
		}
		b.m.zonesPublished.WithLabelValues("kv").Inc()
		b.log.Debug("zone published", zap.String("zone", name), zap.Int64("version", rev), zap.Int("records", records), zap.Int("bytes", len(data)))
		return nil
	}
	// Too large for one message: the whole zone goes to the object store
	// first, then the KV value points at it, so an edge that sees the new
	// pointer can always fetch the object.
	inline = nil
	if data, err = b.cfg.Signer.Seal(snapshot.ObjectBinding(key), data); err != nil {
		return err
	}
	chunk := uint32(min(128<<10, b.maxInline()))
	meta := jetstream.ObjectMeta{Name: key, Opts: &jetstream.ObjectMetaOptions{ChunkSize: chunk}}
	if err := b.guardedLong(ctx, func(ctx context.Context) error {
		_, err := b.objs.Put(ctx, meta, bytes.NewReader(data))
		return err
	}); err != nil {
		return fmt.Errorf("put zone object %s: %w", key, err)
	}
	return b.publishPointer(ctx, name, key, h, records, len(data))
}

// publishPointer points the zone's KV value at its object, just put:
// after the object, so that an edge seeing the pointer can always fetch
// what it points at. extra are further log fields (the paced put's steps).
func (b *Builder) publishPointer(ctx context.Context, name, key string, h *snapshot.ZoneHeader, records, size int, extra ...zap.Field) error {
	b.mu.Lock()
	b.inObjects[name] = true
	b.mu.Unlock()
	// The pointer's header carries the version of the object, which is
	// where an edge starts replaying the zone's deltas.
	ptr, err := snapshot.MarshalZone(&snapshot.Zone{Header: h, RecordsObject: key})
	if err != nil {
		return fmt.Errorf("marshal zone snapshot pointer %s: %w", key, err)
	}
	if ptr, err = b.cfg.Signer.Seal(snapshot.ZoneBinding(key), ptr); err != nil {
		return fmt.Errorf("sign zone snapshot pointer %s: %w", key, err)
	}
	if err := b.guarded(ctx, func(ctx context.Context) error {
		_, err := b.zones.Put(ctx, key, ptr)
		return err
	}); err != nil {
		return fmt.Errorf("put zone snapshot pointer %s: %w", key, err)
	}
	b.m.zonesPublished.WithLabelValues("object").Inc()
	b.log.Info("zone published to object store", append([]zap.Field{zap.String("zone", name),
		zap.Int64("version", int64(h.GetVersion())), zap.Int("records", records), zap.Int("bytes", size)}, extra...)...)
	return nil
}

// dropObject removes a zone's object-store copy once the KV value no
// longer points at it.
func (b *Builder) dropObject(ctx context.Context, name string) error {
	b.mu.Lock()
	held := b.inObjects[name]
	b.mu.Unlock()
	if !held {
		return nil
	}
	if err := b.guarded(ctx, func(ctx context.Context) error {
		return b.objs.Delete(ctx, snapshot.ZoneKey(name))
	}); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete zone object %s: %w", snapshot.ZoneKey(name), err)
	}
	b.mu.Lock()
	delete(b.inObjects, name)
	b.mu.Unlock()
	return nil
}

// publishAccount puts the account's settings at rev into the accounts
// bucket; no zone is recompiled, edges apply them at answer time.
func (b *Builder) publishAccount(ctx context.Context, accountID string, rev int64) error {
	as, err := b.st.AccountSettingsAt(ctx, accountID, rev)
	if err != nil {
		return err
	}
	data, err := snapshot.MarshalAccount(&snapshot.Account{
		Format: snapshot.FormatVersion, AccountId: accountID, Version: uint64(rev), EnforceDnsOnly: as.GetEnforceDnsOnly(),
	})
	if err != nil {
		return err
	}
	if data, err = b.cfg.Signer.Seal(snapshot.AccountBinding(accountID), data); err != nil {
		return err
	}
	if err := b.guarded(ctx, func(ctx context.Context) error {
		_, err := b.accts.Put(ctx, accountID, data)
		return err
	}); err != nil {
		return fmt.Errorf("put account snapshot %s: %w", accountID, err)
	}
	b.m.accountsPublished.Inc()
	return nil
}

// unpublish removes the name from the zones bucket. Unsigned, the key is
// deleted. Signed, a signed tombstone at rev replaces the value: an edge
// that verifies signatures ignores deletes (anyone who can write to NATS
// could forge one), so only a signed tombstone makes it drop the zone.
func (b *Builder) unpublish(ctx context.Context, name string, rev int64) error {
	key := snapshot.ZoneKey(name)
	if b.cfg.Signer == nil {
		if err := b.guarded(ctx, func(ctx context.Context) error {
			return b.zones.Delete(ctx, key)
		}); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("delete zone snapshot %s: %w", key, err)
		}
		return nil
	}
	data, err := snapshot.MarshalZone(&snapshot.Zone{
		Header:    &snapshot.ZoneHeader{Format: snapshot.FormatVersion, Name: name, Version: uint64(rev)},
		Tombstone: true,
	})
	if err != nil {
		return err
	}
	if data, err = b.cfg.Signer.Seal(snapshot.ZoneBinding(key), data); err != nil {
		return err
	}
	if err := b.guarded(ctx, func(ctx context.Context) error {
		_, err := b.zones.Put(ctx, key, data)
		return err
	}); err != nil {
		return fmt.Errorf("put zone tombstone %s: %w", key, err)
	}
	return nil
}

// readZone decodes a zone value the builder reads back, checking it was
// signed by this builder's key when signing is on.
func (b *Builder) readZone(key string, value []byte) (*snapshot.Zone, error) {
	data, err := b.verify.Open(snapshot.ZoneBinding(key), value)
	if err != nil {
		return nil, err
	}
	return snapshot.UnmarshalZone(data)
}

// isTombstone reports whether the zones bucket holds a tombstone at key.
func (b *Builder) isTombstone(ctx context.Context, key string) bool {
	e, err := b.zones.Get(ctx, key)
	if err != nil {
		return false
	}
	z, err := b.readZone(key, e.Value())
	return err == nil && z.GetTombstone()
}

// guarded runs one NATS write under the leader's fence (fence.go): it
// fails without writing when leadership is not proven, and its context
// ends before the election lease could have expired.
func (b *Builder) guarded(ctx context.Context, write func(ctx context.Context) error) error {
	wctx, cancel, err := b.fence.Load().writeCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return write(wctx)
}

// guardedLong is guarded for a write that may take long (a zone object).
func (b *Builder) guardedLong(ctx context.Context, write func(ctx context.Context) error) error {
	wctx, cancel, err := b.fence.Load().longWriteCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return write(wctx)
}
