package builder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Reconcile: the builder follows etcd's watch from a stored revision, so it
// publishes only what changes. Whatever NATS loses behind its back (the
// JetStream store wiped, a bucket deleted, keys purged, an object gone)
// would stay lost until the zone changes again, and a new edge would serve
// REFUSED for it. The leader therefore compares what the buckets hold with
// what etcd says should be served when it starts following and every
// ReconcileInterval, and republishes what differs. The comparison reads
// the zones bucket's values (headers: name, zone id, version) in one
// listing, the object store's names in one, and etcd in a handful of range
// reads (store.VersionsAt); zones that are current cost no etcd read and
// no compile.

// listed is what the zones bucket holds for one key.
type listed struct {
	zone *snapshot.Zone // nil: does not decode or verify
}

// reconcile compares NATS with etcd at rev (the last published revision:
// the main loop is not publishing meanwhile) and republishes every zone
// name and account that is missing, older or divergent. A bucket or the
// delta stream found missing is recreated and everything republished.
func (b *Builder) reconcile(ctx context.Context, rev int64) error {
	start := time.Now()
	if err := b.ensureBuckets(ctx, false); err != nil {
		b.m.reconciles.WithLabelValues("failed").Inc()
		return err
	}
	v, err := b.st.VersionsAt(ctx, rev)
	if err != nil {
		b.m.reconciles.WithLabelValues("failed").Inc()
		return err
	}
	held, err := b.listZones(ctx)
	if err != nil {
		b.m.reconciles.WithLabelValues("failed").Inc()
		return err
	}
	objects := map[string]bool{}
	objs, err := b.objs.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		b.m.reconciles.WithLabelValues("failed").Inc()
		return fmt.Errorf("list object store %s: %w", snapshot.ObjectBucket, err)
	}
	for _, o := range objs {
		objects[o.Name] = true
	}

	reasons := map[string]string{}
	for name, ids := range v.Names {
		if why, err := b.zoneDiverges(ctx, name, ids, held[snapshot.ZoneKey(name)], v.Changed, objects, rev); err != nil {
			b.m.reconciles.WithLabelValues("failed").Inc()
			return err
		} else if why != "" {
			reasons[name] = why
		}
	}
	for key, l := range held {
		name := snapshot.NameFromKey(key)
		if _, ok := v.Names[name]; ok {
			continue
		}
		// No zone holds the name any more: only a tombstone (or, unsigned,
		// no key) may be left.
		if l.zone == nil || !l.zone.GetTombstone() {
			reasons[name] = "divergent"
		}
	}
	if b.refill {
		for name := range v.Names {
			reasons[name] = "refill"
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range reasons {
			if !yield(n) {
				return
			}
		}
	})
	if err := inParallel(ctx, names, func(ctx context.Context, n string) error {
		return b.skipPermanent(b.publishFull(ctx, n, rev, false), "zone", n)
	}); err != nil {
		b.m.reconciles.WithLabelValues("failed").Inc()
		return err
	}
	for _, n := range names {
		b.m.reconcileFixed.WithLabelValues(reasons[n]).Inc()
	}

	accts, err := b.staleAccounts(ctx, v.Accounts)
	if err != nil {
		b.m.reconciles.WithLabelValues("failed").Inc()
		return err
	}
	if err := inParallel(ctx, accts, func(ctx context.Context, a string) error {
		return b.skipPermanent(b.publishAccount(ctx, a, rev), "account", a)
	}); err != nil {
		b.m.reconciles.WithLabelValues("failed").Inc()
		return err
	}
	b.m.reconcileFixed.WithLabelValues("account").Add(float64(len(accts)))
	if err := b.clearFilling(ctx); err != nil {
		b.m.reconciles.WithLabelValues("failed").Inc()
		return err
	}
	b.refill = false
	result := "ok"
	if len(names)+len(accts) > 0 {
		result = "repaired"
		b.log.Warn("reconcile republished what NATS was missing", zap.Int64("revision", rev),
			zap.Int("zones", len(names)), zap.Int("accounts", len(accts)), zap.Int("names_checked", len(v.Names)),
			zap.Duration("took", time.Since(start)))
	} else {
		b.log.Debug("reconcile: NATS matches etcd", zap.Int64("revision", rev), zap.Int("names_checked", len(v.Names)),
			zap.Duration("took", time.Since(start)))
	}
	b.m.reconciles.WithLabelValues(result).Inc()
	return nil
}

// zoneDiverges says why the name must be republished ("" when what the
// bucket holds is current). ids are the zones holding the name, changed
// the last revision each zone's data changed.
func (b *Builder) zoneDiverges(ctx context.Context, name string, ids []string, l *listed, changed map[string]int64,
	objects map[string]bool, rev int64) (string, error) {
	var last int64
	for _, id := range ids {
		last = max(last, changed[id])
	}
	switch {
	case l == nil && b.cfg.Signer == nil:
		// Unsigned, a name no zone serves has no key: missing is right
		// unless a zone serves it.
		z, err := b.serving(ctx, name, rev)
		if err != nil || z == nil {
			return "", b.skipPermanent(err, "zone", name)
		}
		return "missing", nil
	case l == nil:
		return "missing", nil
	case l.zone == nil:
		return "divergent", nil
	}
	h := l.zone.GetHeader()
	if int64(h.GetVersion()) > rev {
		return "", nil // published after rev by someone who saw more: not ours to judge
	}
	if l.zone.GetTombstone() {
		if int64(h.GetVersion()) < last {
			return "older", nil
		}
		return "", nil
	}
	if !slices.Contains(ids, h.GetZoneId()) {
		return "divergent", nil
	}
	if obj := l.zone.GetRecordsObject(); obj != "" && !objects[obj] {
		return "object_missing", nil
	}
	version := h.GetVersion()
	if int64(version) < last {
		// A zone published as deltas keeps its full snapshot's version in
		// the bucket; its deltas carry it on.
		st := b.state(name)
		if err := b.recoverState(ctx, name, st); err != nil {
			return "", err
		}
		b.mu.Lock()
		if st.delta && st.zoneID == h.GetZoneId() {
			version = max(version, st.version)
		}
		b.mu.Unlock()
	}
	if int64(version) < last {
		return "older", nil
	}
	return "", nil
}

// listZones reads every value of the zones bucket in one ordered listing.
func (b *Builder) listZones(ctx context.Context) (map[string]*listed, error) {
	w, err := b.zones.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list kv bucket %s: %w", snapshot.ZonesBucket, err)
	}
	defer w.Stop()
	out := map[string]*listed{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("list kv bucket %s: watch closed", snapshot.ZonesBucket)
			}
			if e == nil {
				return out, nil
			}
			z, err := b.readZone(e.Key(), e.Value())
			if err != nil || z.GetHeader().GetName() == "" || snapshot.ZoneKey(z.GetHeader().GetName()) != e.Key() {
				z = nil
			}
			out[e.Key()] = &listed{zone: z}
		}
	}
}

// staleAccounts returns the accounts whose settings value is missing, does
// not verify, or is older than their settings in etcd.
func (b *Builder) staleAccounts(ctx context.Context, want map[string]int64) ([]string, error) {
	w, err := b.accts.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list kv bucket %s: %w", snapshot.AccountsBucket, err)
	}
	defer w.Stop()
	have := map[string]uint64{}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("list kv bucket %s: watch closed", snapshot.AccountsBucket)
			}
			if e == nil {
				done = true
				continue
			}
			data, err := b.verify.Open(snapshot.AccountBinding(e.Key()), e.Value())
			if err != nil {
				continue
			}
			if a, err := snapshot.UnmarshalAccount(data); err == nil && a.GetAccountId() == e.Key() {
				have[e.Key()] = a.GetVersion()
			}
		}
	}
	var out []string
	for id, mod := range want {
		if v, ok := have[id]; !ok || int64(v) < mod {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// clearFilling removes snapshot.FillingMetadata from the KV buckets once
// everything is published into them: edges may now call their listing
// complete.
func (b *Builder) clearFilling(ctx context.Context) error {
	for _, kv := range []jetstream.KeyValue{b.zones, b.accts} {
		st, err := kv.Status(ctx)
		if err != nil {
			return fmt.Errorf("kv bucket %s status: %w", kv.Bucket(), err)
		}
		if _, ok := st.Metadata()[snapshot.FillingMetadata]; !ok {
			continue
		}
		cfg := st.Config()
		delete(cfg.Metadata, snapshot.FillingMetadata)
		if err := b.guarded(ctx, func(ctx context.Context) error {
			_, err := b.js.UpdateKeyValue(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("kv bucket %s: clear %s: %w", kv.Bucket(), snapshot.FillingMetadata, err)
		}
		b.log.Info("kv bucket complete: edges may load it", zap.String("bucket", kv.Bucket()))
	}
	return nil
}
