package builder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go/jetstream"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// zoneState is what the builder remembers about a published zone name, to
// publish its next change as a delta. After a restart or a change of
// leader it is recovered from what is published (recoverState).
type zoneState struct {
	// fullMu serialises every write of the name's KV value and object, so
	// that a background rewrite never puts an older full snapshot over a
	// newer one or resurrects a deleted zone. Deltas do not take it.
	fullMu sync.Mutex

	// The fields below are guarded by Builder.mu.
	zoneID string
	// delta: the zone is large enough that changes travel as deltas.
	delta bool
	// version is the last version published (full or delta): the
	// from_version of the next delta.
	version uint64
	// fullVersion and fullAt are those of the last full snapshot.
	fullVersion uint64
	fullAt      time.Time
	// deltas counts deltas published since the builder started; chainBase
	// is its value when the last full snapshot was taken, so chain() is
	// about (a delta may be published while a rewrite reads) the number of
	// deltas after it.
	deltas, chainBase int
	// gone is set when the name stopped being served.
	gone      bool
	rewriting bool
	// recovered is set once recoverState looked at what is published.
	recovered bool
	// kept holds, when chainOK, every delta published after version
	// keptSince (rewrite.go). When keptSince ≤ fullVersion a background
	// rewrite builds the next full snapshot from the published one and
	// these, instead of reading every record from etcd. chainBytes bounds
	// the memory.
	kept       []*snapshot.ZoneDelta
	keptSince  uint64
	chainOK    bool
	chainBytes int
	// ns is the apex NS set and glue last published (glueFingerprint): a
	// change of it (custom nameservers set or removed) changes the glue
	// records the builder makes, which only a full snapshot carries. A
	// recovered state does not know it (nil): its first header change is
	// published in full.
	ns []string
}

// chain is the number of deltas an edge starting now must replay.
func (s *zoneState) chain() int { return s.deltas - s.chainBase }

func (b *Builder) state(name string) *zoneState {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.zstate[name]
	if s == nil {
		s = &zoneState{}
		b.zstate[name] = s
	}
	return s
}

// recordChange is the last change of one record id in a batch.
type recordChange struct {
	rev int64
	rec *dnsv1.Record // nil: deleted
	bad bool          // the stored value does not decode
}

// addRecordEvent remembers the final state of a record id in the batch.
// A rename deletes the old key and puts the new one in one revision, in
// either order: within a revision a put wins. It returns the put's
// record, nil when none or when it does not decode.
func (bt *batch) addRecordEvent(zoneID string, ev *clientv3.Event) *dnsv1.Record {
	key := string(ev.Kv.Key)
	id := key[strings.LastIndexByte(key, '/')+1:]
	rc := &recordChange{rev: ev.Kv.ModRevision}
	if ev.Type == clientv3.EventTypePut {
		r := &dnsv1.Record{}
		if err := proto.Unmarshal(ev.Kv.Value, r); err != nil || r.GetId() != id {
			rc.bad = true
		} else {
			rc.rec = r
		}
	}
	recs := bt.records[zoneID]
	if recs == nil {
		recs = map[string]*recordChange{}
		bt.records[zoneID] = recs
	}
	if old := recs[id]; old != nil && old.rev == rc.rev && rc.rec == nil && !rc.bad {
		return nil // the delete half of a rename
	}
	recs[id] = rc
	return rc.rec
}

// publishChange publishes a touched name: as a delta when the name is known
// to be a large zone served by the same zone as before, else in full.
func (b *Builder) publishChange(ctx context.Context, bt *batch, name string) error {
	st := b.state(name)
	if err := b.recoverState(ctx, name, st); err != nil {
		return err
	}
	b.mu.Lock()
	useDelta := st.delta && !st.gone && st.zoneID != "" && b.cfg.DeltaThreshold > 0
	zoneID := st.zoneID
	b.mu.Unlock()
	if !useDelta || b.mergesRecords(ctx, zoneID, bt.rev) { // override.go
		return b.publishFull(ctx, name, bt.rev, false)
	}
	var header *snapshot.ZoneHeader
	if bt.headers[name] {
		// The zone, its settings or the zones of the name changed: the
		// header may differ, or another zone may now serve the name.
		z, err := b.serving(ctx, name, bt.rev)
		if err != nil {
			return err
		}
		if z == nil || z.GetId() != zoneID {
			return b.publishFull(ctx, name, bt.rev, false)
		}
		zs, err := b.st.ZoneSettingsAt(ctx, zoneID, bt.rev)
		if err != nil {
			return err
		}
		ds, err := b.st.DnssecAt(ctx, zoneID, bt.rev)
		if err != nil {
			return err
		}
		// The header depends on the apex records alone (the served NS
		// set with multi-provider DNS, a secondary zone's SOA).
		apex, err := b.st.RecordsAtNameAt(ctx, zoneID, z.GetName(), bt.rev)
		if err != nil {
			return err
		}
		snap, _ := compileZone(z, zs, apex, bt.rev, b.opts)
		header = snap.Header
		header.Dnssec = dnssecHeader(ds)
		if header.Transfer, err = b.transferHeader(ctx, z, bt.rev); err != nil {
			return err
		}
		b.mu.Lock()
		nsChanged := !slices.Equal(glueFingerprint(header, z), st.ns)
		b.mu.Unlock()
		if nsChanged {
			return b.publishFull(ctx, name, bt.rev, false)
		}
	}
	return b.publishDelta(ctx, name, st, bt, header)
}

// recoverState rebuilds what a builder that (re)started or (re)gained
// leadership knows about a name from what is published: the full snapshot
// in the zones bucket and the last delta on the name's subject. Without it
// the first change of a million-record zone after a failover would be a
// full snapshot (minutes of reading etcd). It is safe because a delta's
// upserts and deletes are final record states: a batch replayed from the
// stored revision may repeat changes edges already applied, and repeating
// them yields the same zone. Only a name whose published zone is large
// enough is recovered; anything else publishes in full as before.
func (b *Builder) recoverState(ctx context.Context, name string, st *zoneState) error {
	b.mu.Lock()
	known := st.recovered || st.version != 0 || st.gone
	st.recovered = true
	b.mu.Unlock()
	if known || b.cfg.DeltaThreshold <= 0 {
		return nil
	}
	e, err := b.zones.Get(ctx, snapshot.ZoneKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get zone snapshot %s: %w", name, err)
	}
	z, err := b.readZone(snapshot.ZoneKey(name), e.Value())
	if err != nil || z.GetTombstone() {
		return nil // republished in full
	}
	h := z.GetHeader()
	if z.GetRecordsObject() == "" && len(z.GetRecords()) < b.cfg.DeltaThreshold {
		return nil
	}
	version := h.GetVersion()
	s, err := b.js.Stream(ctx, snapshot.DeltaStream)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", snapshot.DeltaStream, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, snapshot.DeltaSubject(name))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return fmt.Errorf("last delta of %s: %w", name, err)
	default:
		data, err := b.verify.Open(snapshot.DeltaBinding(m.Subject), m.Data)
		if err != nil {
			return nil // not signed by this builder: publish in full
		}
		d, err := snapshot.UnmarshalDelta(data)
		if err != nil || d.GetZoneId() != h.GetZoneId() {
			return nil // not a chain of this zone: publish in full
		}
		version = max(version, d.GetToVersion())
	}
	// The deltas already published after the full snapshot count towards
	// DeltaChainMax: else every restart (or new leader) starts the count
	// again and the chain outgrows what the stream keeps. Read back once,
	// at recovery; a chain the stream no longer holds whole counts as
	// full, so that the next delta rewrites the snapshot.
	chain, err := b.deltasBetween(ctx, name, h.GetZoneId(), h.GetVersion(), version)
	n := len(chain)
	switch {
	case errors.Is(err, errNoBase):
		n = b.cfg.DeltaChainMax
	case err != nil:
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st.chainBase = st.deltas - n
	st.zoneID, st.delta, st.ns = h.GetZoneId(), true, nil
	// fullAt is when the full snapshot was published, not now: a builder
	// that restarts more often than FullEvery (a lease lapsing under load)
	// must still rewrite it, else the chain outgrows what the delta
	// stream keeps (2 × DeltaChainMax per subject) and edges starting
	// later cannot catch up from it.
	st.version, st.fullVersion, st.fullAt = version, h.GetVersion(), e.Created()
	// The deltas after the published full snapshot are not in memory:
	// keep those from here on, so that after the next rewrite (from etcd)
	// the following ones are built from the published snapshot.
	st.startChain(version)
	b.log.Info("delta chain recovered", zap.String("zone", name), zap.Uint64("version", version),
		zap.Uint64("full_version", h.GetVersion()), zap.Int("chain", n))
	return nil
}

// publishDelta publishes the record changes of the served zone in the
// batch (and the header, if given) as one delta from the name's last
// published version. It never reads the zone's records.
func (b *Builder) publishDelta(ctx context.Context, name string, st *zoneState, bt *batch, header *snapshot.ZoneHeader) error {
	b.traceStage(ctx, stageRead)
	b.mu.Lock()
	from, zoneID := st.version, st.zoneID
	b.mu.Unlock()
	d := &snapshot.ZoneDelta{ZoneId: zoneID, Name: name, FromVersion: from, ToVersion: uint64(bt.rev), Header: header}
	buf := make([]byte, dns.MaxMsgSize)
	for id, rc := range bt.records[zoneID] {
		if rc.rec == nil {
			if rc.bad {
				b.m.badRecords.Inc()
				b.log.Warn("record skipped: stored value does not decode", zap.String("zone", name), zap.String("record", id))
			}
			d.Deletes = append(d.Deletes, id)
			continue
		}
		wire, err := packRecord(rc.rec, buf)
		if err != nil {
			// As in a full compile, a record that does not compile is not
			// served: its previous version must go too.
			b.m.badRecords.Inc()
			b.log.Warn("record skipped: does not compile", zap.String("zone", name), zap.String("record", id), zap.Error(err))
			d.Deletes = append(d.Deletes, id)
			continue
		}
		d.Upserts = append(d.Upserts, &snapshot.Record{
			Id: id, Rr: wire, Proxied: rc.rec.GetProxied(),
			FlattenCname: rc.rec.GetSettings().GetFlattenCname(), ManagedBy: rc.rec.GetMeta().GetManagedBy(),
		})
	}
	if len(d.Upserts) == 0 && len(d.Deletes) == 0 && header == nil {
		return nil // only other zones of the name changed
	}
	if uint64(bt.rev) <= from {
		return nil // already published (a replayed batch)
	}
	data, err := snapshot.MarshalDelta(d)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnpublishable, err)
	}
	if data, err = b.cfg.Signer.Seal(snapshot.DeltaBinding(snapshot.DeltaSubject(name)), data); err != nil {
		return err
	}
	if int64(len(data)) > b.maxInline() {
		// A bulk change larger than a message: a full snapshot is cheaper
		// for everyone than a chain of split deltas.
		return b.publishFull(ctx, name, bt.rev, false)
	}
	b.traceStage(ctx, stageEncoded)
	if err := b.guarded(ctx, func(ctx context.Context) error {
		b.traceStage(ctx, stageFenced)
		_, err := b.js.Publish(ctx, snapshot.DeltaSubject(name), data)
		return err
	}); err != nil {
		return fmt.Errorf("publish delta of zone %s %d→%d: %w", name, from, bt.rev, err)
	}
	b.traceStage(ctx, stagePut)
	b.mu.Lock()
	st.version = uint64(bt.rev)
	st.deltas++
	st.keepDelta(d)
	if st.chain() >= b.cfg.DeltaChainMax {
		// Scheduled once the batch is published, so that the rewrite
		// (at the last published revision) includes this delta.
		bt.rewrite = append(bt.rewrite, name)
	}
	b.mu.Unlock()
	b.m.zonesPublished.WithLabelValues("delta").Inc()
	b.log.Debug("zone delta published", zap.String("zone", name), zap.Uint64("from", from), zap.Int64("to", bt.rev),
		zap.Int("upserts", len(d.Upserts)), zap.Int("deletes", len(d.Deletes)))
	return nil
}

// publishFull compiles and publishes the name's full snapshot at rev under
// the name's lock and records the outcome. background marks a periodic
// rewrite, which must not replace a newer full snapshot nor touch a name
// that stopped being served, and does not move the delta chain's start
// version (deltas after rev were published meanwhile).
func (b *Builder) publishFull(ctx context.Context, name string, rev int64, background bool) error {
	st := b.state(name)
	st.fullMu.Lock()
	defer st.fullMu.Unlock()
	b.mu.Lock()
	stale := background && (st.gone || st.fullVersion >= uint64(rev))
	base := st.deltas
	b.mu.Unlock()
	if stale {
		return nil
	}
	if background {
		// From the published snapshot and the deltas since when possible
		// (rewrite.go), so that a million-record rewrite reads no records
		// from etcd.
		var res published
		err := b.rewriteFromBase(ctx, name, st, rev)
		if errors.Is(err, errNoBase) {
			b.log.Info("full snapshot rewrite compiles the zone from etcd", zap.String("zone", name), zap.Error(err))
			res, err = b.publishName(ctx, name, rev)
		}
		if err != nil {
			return err
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		st.fullVersion, st.fullAt, st.chainBase = uint64(rev), time.Now(), base
		st.trimChain(uint64(rev))
		if st.ns == nil && res.zoneID == st.zoneID {
			// A recovered chain does not know the glue published; now it
			// does (any change of it since is published in full).
			st.ns = res.ns
		}
		return nil
	}
	res, err := b.publishName(ctx, name, rev)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st.fullVersion, st.fullAt, st.chainBase = uint64(rev), time.Now(), base
	st.version = uint64(rev)
	st.gone = res.zoneID == ""
	st.zoneID = res.zoneID
	st.ns = res.ns
	st.delta = b.cfg.DeltaThreshold > 0 && res.records >= b.cfg.DeltaThreshold
	st.startChain(uint64(rev))
	st.chainOK = st.delta
	return nil
}

// scheduleRewrite asks the background writer for a fresh full snapshot of
// the name, so that the delta chain an edge must replay stays short.
func (b *Builder) scheduleRewrite(name string) {
	b.mu.Lock()
	st := b.zstate[name]
	if st == nil || st.rewriting || st.gone {
		b.mu.Unlock()
		return
	}
	st.rewriting = true
	b.mu.Unlock()
	select {
	case b.rewrites <- name:
	default:
		// Queue full: the next tick asks again.
		b.mu.Lock()
		st.rewriting = false
		b.mu.Unlock()
	}
}

// dueRewrites schedules every delta zone whose full snapshot is older than
// FullEvery and has deltas after it: an edge starting later must never
// depend on deltas the stream may have dropped by age.
func (b *Builder) dueRewrites() {
	var due []string
	b.mu.Lock()
	for name, st := range b.zstate {
		if st.delta && !st.gone && st.version > st.fullVersion && time.Since(st.fullAt) >= b.cfg.FullEvery {
			due = append(due, name)
		}
	}
	b.mu.Unlock()
	for _, name := range due {
		b.scheduleRewrite(name)
	}
}

// rewriter writes full snapshots of delta zones in the background, at the
// last published revision, so that a rewrite taking seconds (a million
// records) never delays the deltas of any zone.
func (b *Builder) rewriter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-b.rewrites:
			rev := b.published.Load()
			start := time.Now()
			err := b.publishFull(ctx, name, rev, true)
			b.mu.Lock()
			if st := b.zstate[name]; st != nil {
				st.rewriting = false
			}
			b.mu.Unlock()
			if err != nil {
				if ctx.Err() == nil {
					b.log.Warn("full snapshot rewrite failed; retried later", zap.String("zone", name), zap.Error(err))
				}
				continue
			}
			b.m.fullRewrites.Inc()
			b.log.Info("full snapshot rewritten", zap.String("zone", name), zap.Int64("version", rev), zap.Duration("took", time.Since(start)))
		}
	}
}

// ensureDeltaStream creates or updates the stream deltas travel on.
func (b *Builder) ensureDeltaStream(ctx context.Context) error {
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        snapshot.DeltaStream,
		Description: "zonegrid deltas of large zones",
		Subjects:    []string{snapshot.DeltaSubjectPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      b.cfg.DeltaMaxAge,
		// A full snapshot is rewritten after DeltaChainMax deltas; twice
		// that leaves room for a rewrite in progress.
		MaxMsgsPerSubject: int64(2 * b.cfg.DeltaChainMax),
		MaxBytes:          b.cfg.DeltaMaxBytes,
		Storage:           jetstream.FileStorage,
		Replicas:          b.cfg.KVReplicas,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("create stream %s: %w", snapshot.DeltaStream, err)
	}
	return err
}
