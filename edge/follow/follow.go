// Package follow keeps an edge's zones and account settings in step with
// the control plane: it watches the JetStream KV buckets the control plane
// publishes snapshots to (fetching large zones from the object store) and
// installs each snapshot into the in-memory sets.
//
// The watch delivers every current value first and then a marker, after
// which the follower reports ready; then it applies updates as they come.
// While NATS is away the edge keeps answering from memory; nats.go
// reconnects and the watch's ordered consumer resumes. Should the watch end
// anyway, it is started again and the full listing reconciled (zones no
// longer listed are dropped).
//
// With a Verifier, every value must carry a valid signature of a trusted
// key for the key or subject it arrived under (pkg/snapshot/sign.go);
// anything else is dropped, logged and counted, and the version held keeps
// being served. Deletes cannot be signed, so a verifying follower ignores
// them (and the reconciliation) and drops a zone only on a signed
// tombstone. Verification happens as a snapshot arrives, never per query.
package follow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/jsstall"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Config configures a Follower.
type Config struct {
	Conn     *nats.Conn
	Zones    *zonecache.Set
	Accounts *zonecache.Accounts
	Log      *zap.Logger
	// Registerer for the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// RetryWait is the pause before watching again after a failure
	// (default 1s).
	RetryWait time.Duration
	// StallCheck is how often each bucket's watch and the delta consumer
	// are checked for a stall (default 2s; pkg/jsstall): a consumer the
	// server lost (the NATS server hosting it died while the connection,
	// to another server, stayed up) delivers nothing until the client's
	// heartbeat check notices, 10 to 20 s later, and one the server keeps
	// sending heartbeats for while delivering nothing (paused, wedged)
	// never. When a message the stream held at one check is still not
	// delivered at the next, the consumer waiting meanwhile, the watch or
	// consumer starts over. Costs one stream info request a check each.
	StallCheck time.Duration
	// Verifier checks the signature of every value; nil accepts unsigned
	// values (and signed ones without checking them).
	Verifier *snapshot.Verifier
	// Trace, when set, receives when each zone value applied from the
	// zones bucket's watch passed each stage (trace.go; the propagation
	// benchmark); nil: off.
	Trace TraceFunc
}

// Follower applies snapshots from JetStream to the in-memory sets.
type Follower struct {
	cfg       Config
	js        jetstream.JetStream
	log       *zap.Logger
	m         *metrics
	ready     chan struct{}
	readyOnce sync.Once

	mu      sync.Mutex
	loaded  map[string]bool // bucket -> initial load done
	objects jetstream.ObjectStore
	// kick asks each bucket's watch and the delta consumer to start over
	// (after a reconnect).
	kick map[string]chan struct{}
	// stream is the delta stream once opened (guarded by mu).
	stream jetstream.Stream

	// zonesListed is closed once the zones bucket's first listing is in.
	zonesListed chan struct{}
	// deltaMu serialises delta application and replays.
	deltaMu sync.Mutex
	// deltaChecks carries zones whose full snapshot was installed after
	// the delta consumer started: deltas it passed may follow it.
	deltaChecks chan string
	// gaps holds the zones whose catch-up after a delta gap failed, and
	// when to try again (delta.go; guarded by deltaMu).
	gaps map[string]gapRetry
	// releases counts the memory releases asked for while one runs
	// (releaseMemory).
	releases atomic.Int32
}

// New returns a Follower; Run starts it.
func New(cfg Config) (*Follower, error) {
	if cfg.Conn == nil || cfg.Zones == nil || cfg.Accounts == nil {
		return nil, errors.New("follow: connection, zones and accounts are required")
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = time.Second
	}
	if cfg.StallCheck <= 0 {
		cfg.StallCheck = 2 * time.Second
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("jetstream context: %w", err)
	}
	return &Follower{
		cfg: cfg, js: js, log: cfg.Log, m: newMetrics(cfg.Registerer),
		ready:  make(chan struct{}),
		loaded: map[string]bool{},
		kick: map[string]chan struct{}{
			snapshot.ZonesBucket:    make(chan struct{}, 1),
			snapshot.AccountsBucket: make(chan struct{}, 1),
			deltasKey:               make(chan struct{}, 1),
		},
		zonesListed: make(chan struct{}),
		deltaChecks: make(chan string, 4096),
	}, nil
}

// Reconnected tells the follower that the NATS connection came back. The
// watches start over at once instead of waiting for their consumers'
// heartbeats to notice a restarted server (which takes tens of seconds);
// the fresh listing is cheap for zones already held (same version) and
// catches deletes missed meanwhile.
func (f *Follower) Reconnected() {
	for _, c := range f.kick {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Ready is closed once the zones and accounts present when the follower
// started have been loaded, and the deltas published after those zones'
// full snapshots applied.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Run follows both buckets and the delta stream until ctx ends.
func (f *Follower) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); f.followDeltas(ctx) }()
	go func() { defer wg.Done(); f.checkDeltas(ctx) }()
	go func() {
		defer wg.Done()
		f.follow(ctx, snapshot.ZonesBucket, snapshot.ZoneBinding, f.applyZonePayload, f.dropZone, f.zoneKeys)
	}()
	go func() {
		defer wg.Done()
		f.follow(ctx, snapshot.AccountsBucket, snapshot.AccountBinding, f.applyAccount, f.dropAccount, f.cfg.Accounts.IDs)
	}()
	wg.Wait()
}

type (
	// applyFunc applies an entry whose value opened (verified) to payload.
	applyFunc func(ctx context.Context, e jetstream.KeyValueEntry, payload []byte) error
	// bindFunc is where a bucket's key is published, as signatures bind it.
	bindFunc func(key string) string
	dropFunc func(key string)
	keysFunc func() []string
)

// follow watches one bucket, starting over after any failure.
func (f *Follower) follow(ctx context.Context, bucket string, bind bindFunc, apply applyFunc, drop dropFunc, held keysFunc) {
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-time.After(f.cfg.RetryWait):
			}
		}
		err := f.watch(ctx, bucket, bind, apply, drop, held)
		if ctx.Err() != nil {
			return
		}
		f.restarted(bucket, "snapshot watch ended; watching again", err)
	}
}

// restarted counts and logs a bucket watch or the delta consumer that
// ended and is started again; a stall is also counted on its own, with
// where the consumer stood.
func (f *Follower) restarted(bucket, msg string, err error, fields ...zap.Field) {
	f.m.watchRestarts.WithLabelValues(bucket).Inc()
	var st *jsstall.Stall
	if errors.As(err, &st) {
		f.m.watchStalls.WithLabelValues(bucket).Inc()
		fields = append(fields, zap.Uint64("delivered_sequence", st.Delivered), zap.Uint64("stream_last_sequence", st.Last))
	}
	f.log.Warn(msg, append(fields, zap.String("bucket", bucket), zap.Error(err))...)
}

func (f *Follower) watch(ctx context.Context, bucket string, bind bindFunc, apply applyFunc, drop dropFunc, held keysFunc) error {
	kv, err := f.js.KeyValue(ctx, bucket)
	if err != nil {
		return fmt.Errorf("open kv bucket %q: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch kv bucket %q: %w", bucket, err)
	}
	// Stopped in the background: stopping deletes the watch's consumer,
	// a request that goes unanswered for its whole 5 s timeout while
	// JetStream elects a stream leader (a NATS server died), and the next
	// watch must not wait for it.
	defer func() { go func() { _ = w.Stop() }() }()
	vctx, stop := context.WithCancel(ctx)
	defer stop()
	updates := f.verifyAhead(vctx, w.Updates(), bind)
	initial := map[string]struct{}{}
	inInitial := true
	// Until the bucket's first load counts as done, a listing is not
	// complete while the control plane marks the bucket as filling (it
	// had to recreate it) or while a listed zone could not be fetched
	// (its object is missing): the edge would answer REFUSED for zones
	// that exist. Both are repaired by the control plane's reconcile,
	// whose writes arrive on this watch.
	unfetched := map[string]bool{}
	// refetch holds the keys whose object could not be fetched, initial
	// load or not: nothing else delivers their value again until the
	// control plane publishes a newer version, which for a large zone
	// written rarely may be hours away. A fetch that fails on a loaded
	// NATS (a timeout halfway through 100 MB) is retried with backoff.
	refetch := map[string]bool{}
	refetchWait := f.cfg.RetryWait
	var refetchT *time.Timer
	var refetchC <-chan time.Time
	defer func() {
		if refetchT != nil {
			refetchT.Stop()
		}
	}()
	scheduleRefetch := func() {
		if refetchC != nil || len(refetch) == 0 {
			return
		}
		refetchT = time.NewTimer(refetchWait)
		refetchC = refetchT.C
		refetchWait = min(2*refetchWait, maxRefetchWait)
	}
	var recheck <-chan time.Time
	var recheckT *time.Ticker
	defer func() {
		if recheckT != nil {
			recheckT.Stop()
		}
	}()
	wd := jsstall.New(f.cfg.StallCheck, 0, bucketLast(kv))
	stalled := make(chan error, 1)
	go func() {
		if err := wd.Run(vctx); err != nil {
			stalled <- err
		}
	}()
	var delivered uint64  // highest revision the watch delivered
	var refilledTo uint64 // the bucket's last revision when its filling mark was seen gone
	tryLoaded := func() error {
		if f.isLoaded(bucket) {
			return nil
		}
		if len(unfetched) > 0 {
			f.log.Info("initial load waits for zones whose object could not be fetched",
				zap.String("bucket", bucket), zap.Int("zones", len(unfetched)))
			return nil
		}
		filling, last, err := bucketFilling(ctx, kv)
		if err != nil {
			return err
		}
		if filling {
			if recheck == nil {
				f.log.Warn("bucket is being refilled by the control plane; not ready yet", zap.String("bucket", bucket))
				recheckT = time.NewTicker(f.cfg.RetryWait)
				recheck = recheckT.C
			}
			return nil
		}
		if recheckT != nil {
			// The mark is gone, but the zones the control plane wrote
			// before removing it may not have come through the watch
			// yet: ready once it delivered what the bucket held when the
			// mark was first seen gone (a fixed target, so that writes
			// after it do not hold ready back).
			if refilledTo == 0 {
				refilledTo = last
			}
			if delivered < refilledTo {
				return nil
			}
		}
		if recheckT != nil {
			recheckT.Stop()
			recheckT, recheck = nil, nil
		}
		f.markLoaded(bucket)
		return nil
	}
	// settled is a key's value applied, gone, or given up on.
	settled := func(key string) error {
		delete(refetch, key)
		if len(refetch) == 0 {
			refetchWait = f.cfg.RetryWait
		}
		return f.fetched(key, unfetched, inInitial, tryLoaded)
	}
	for {
		var o *opened
		var ok bool
		wd.Waiting()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.kick[bucket]:
			return errors.New("nats reconnected")
		case err := <-stalled:
			return fmt.Errorf("watch of kv bucket %q: %w", bucket, err)
		case <-recheck:
			wd.Busy()
			if err := tryLoaded(); err != nil {
				return err
			}
			continue
		case <-refetchC:
			wd.Busy()
			refetchT, refetchC = nil, nil
			for key := range refetch {
				done, err := f.refetch(ctx, kv, key, bind, apply)
				if err != nil {
					return err
				}
				if done {
					if err := settled(key); err != nil {
						return err
					}
				}
			}
			scheduleRefetch()
			continue
		case o, ok = <-updates:
		}
		if !ok {
			return fmt.Errorf("watch of kv bucket %q closed", bucket)
		}
		e := o.e
		if e != nil {
			wd.Received(e.Revision())
			delivered = max(delivered, e.Revision())
		}
		<-o.done
		if e == nil {
			if inInitial {
				inInitial = false
				f.reconcile(bucket, initial, drop, held)
				initial = nil
				if err := tryLoaded(); err != nil {
					return err
				}
			}
			continue
		}
		if inInitial {
			initial[e.Key()] = struct{}{}
		}
		switch e.Operation() {
		case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
			if f.cfg.Verifier != nil {
				// Nobody signs a delete: the control plane unpublishes with
				// a signed tombstone, so this one is not from it.
				f.rejected(bucket, e.Key(), snapshot.ErrUnsigned)
				continue
			}
			drop(e.Key())
			f.m.updates.WithLabelValues(bucket, "deleted").Inc()
			if err := settled(e.Key()); err != nil {
				return err
			}
			continue
		}
		start := time.Now()
		err := o.err
		if err != nil {
			err = fmt.Errorf("%s key %q: %w", bucket, e.Key(), err)
		} else {
			err = apply(ctx, e, o.payload)
		}
		if snapshot.SignatureFailure(err) != "" {
			f.rejected(bucket, e.Key(), err)
			continue
		} else if err != nil {
			if errors.Is(err, errObjectUnavailable) {
				if !f.isLoaded(bucket) {
					unfetched[e.Key()] = true
				}
				refetch[e.Key()] = true
				scheduleRefetch()
			}
			// A bad snapshot is skipped, never half-applied: the version
			// held keeps being served until a good one arrives.
			f.m.updates.WithLabelValues(bucket, "failed").Inc()
			f.log.Error("snapshot not applied", zap.String("bucket", bucket), zap.String("key", e.Key()),
				zap.Uint64("revision", e.Revision()), zap.Error(err))
			continue
		}
		if err := settled(e.Key()); err != nil {
			return err
		}
		if bucket == snapshot.ZonesBucket {
			f.traceApplied(o)
		}
		f.m.applySeconds.WithLabelValues(bucket).Observe(time.Since(start).Seconds())
		f.m.lagSeconds.WithLabelValues(bucket).Observe(max(0, time.Since(e.Created()).Seconds()))
	}
}

// reconcile drops what is held but was not in a fresh watch's listing: it
// was deleted while the watch was down.
func (f *Follower) reconcile(bucket string, listed map[string]struct{}, drop dropFunc, held keysFunc) {
	if held == nil || f.cfg.Verifier != nil {
		// A verifying edge drops zones on signed tombstones only: a key
		// missing from the listing may have been deleted by anyone.
		return
	}
	for _, k := range held() {
		if _, ok := listed[k]; !ok {
			f.log.Info("dropping snapshot no longer published", zap.String("bucket", bucket), zap.String("key", k))
			drop(k)
		}
	}
}

// maxRefetchWait bounds the backoff between fetches of an object that
// could not be fetched.
const maxRefetchWait = time.Minute

// refetch reads key's current value and applies it again, for a value
// whose object could not be fetched. done is false only while the object
// is still unavailable; a value that applies, a key that is gone and a
// value that fails otherwise (logged; the next version repairs it, as for
// any bad snapshot) are done. The error is for the watch: its bucket
// failed.
func (f *Follower) refetch(ctx context.Context, kv jetstream.KeyValue, key string, bind bindFunc, apply applyFunc) (done bool, err error) {
	e, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("kv bucket %q: get %q to fetch its object again: %w", kv.Bucket(), key, err)
	}
	payload, err := f.cfg.Verifier.Open(bind(key), e.Value())
	if err == nil {
		err = apply(ctx, e, payload)
	}
	switch {
	case err == nil:
		f.log.Info("zone object fetched on a retry", zap.String("bucket", kv.Bucket()), zap.String("key", key))
		return true, nil
	case errors.Is(err, errObjectUnavailable):
		f.log.Warn("zone object still unavailable", zap.String("bucket", kv.Bucket()), zap.String("key", key), zap.Error(err))
		return false, nil
	default:
		f.log.Error("snapshot not applied", zap.String("bucket", kv.Bucket()), zap.String("key", key),
			zap.Uint64("revision", e.Revision()), zap.Error(err))
		return true, nil
	}
}

// fetched clears a key that could not be fetched during the initial load
// once a later value of it applied (or it went), and completes the load
// when it was the last.
func (f *Follower) fetched(key string, unfetched map[string]bool, inInitial bool, tryLoaded func() error) error {
	if !unfetched[key] {
		return nil
	}
	delete(unfetched, key)
	if len(unfetched) > 0 || inInitial {
		return nil
	}
	return tryLoaded()
}

// bucketLast is a bucket's last revision, for its watch's watchdog.
func bucketLast(kv jetstream.KeyValue) jsstall.LastFunc {
	return func(ctx context.Context) (uint64, error) {
		_, last, err := bucketFilling(ctx, kv)
		return last, err
	}
}

// bucketFilling reports whether the control plane marked the bucket as
// being refilled (snapshot.FillingMetadata): its listing is incomplete;
// last is the bucket's last revision (stream sequence).
func bucketFilling(ctx context.Context, kv jetstream.KeyValue) (filling bool, last uint64, err error) {
	st, err := kv.Status(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("kv bucket %q status: %w", kv.Bucket(), err)
	}
	_, filling = st.Metadata()[snapshot.FillingMetadata]
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		last = bs.StreamInfo().State.LastSeq
	}
	return filling, last, nil
}

func (f *Follower) isLoaded(bucket string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loaded[bucket]
}

func (f *Follower) markLoaded(bucket string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loaded[bucket] {
		return
	}
	f.loaded[bucket] = true
	f.log.Info("initial snapshot load done", zap.String("bucket", bucket), zap.Int("zones", f.cfg.Zones.Len()))
	if bucket == snapshot.ZonesBucket {
		close(f.zonesListed)
	}
	if f.loaded[snapshot.ZonesBucket] && f.loaded[snapshot.AccountsBucket] && f.loaded[deltasKey] {
		f.readyOnce.Do(func() { close(f.ready) })
	}
}

// deltasStarted reports whether the zones bucket's first listing is in:
// from then on the delta consumer runs, and may pass a zone's deltas
// before the bucket watch installs the full snapshot they follow. Zones of
// the first listing need no check: the consumer starts after them.
func (f *Follower) deltasStarted() bool {
	select {
	case <-f.zonesListed:
		return true
	default:
		return false
	}
}

func (f *Follower) zoneKeys() []string {
	names := f.cfg.Zones.Names()
	for i, n := range names {
		names[i] = snapshot.ZoneKey(n)
	}
	return names
}

// applyZone verifies and applies a zone value read outside the watch (a
// reload after a delta gap).
func (f *Follower) applyZone(ctx context.Context, e jetstream.KeyValueEntry) error {
	data, err := f.cfg.Verifier.Open(snapshot.ZoneBinding(e.Key()), e.Value())
	if err != nil {
		return fmt.Errorf("zone key %q: %w", e.Key(), err)
	}
	return f.applyZonePayload(ctx, e, data)
}

// applyZonePayload applies a zone value whose payload was verified.
func (f *Follower) applyZonePayload(ctx context.Context, e jetstream.KeyValueEntry, data []byte) error {
	s, err := snapshot.UnmarshalZone(data)
	if err != nil {
		return fmt.Errorf("zone key %q: %w", e.Key(), err)
	}
	name := s.GetHeader().GetName()
	if snapshot.ZoneKey(name) != e.Key() {
		return fmt.Errorf("zone key %q holds zone %q", e.Key(), name)
	}
	if v, ok := f.cfg.Zones.Version(name); ok && v >= s.GetHeader().GetVersion() {
		f.m.updates.WithLabelValues(snapshot.ZonesBucket, "stale").Inc()
		return nil
	}
	if s.GetTombstone() {
		// The control plane stopped serving the name after the version
		// held (a signed delete).
		f.dropZone(e.Key())
		f.m.updates.WithLabelValues(snapshot.ZonesBucket, "deleted").Inc()
		return nil
	}
	var z *zonecache.Zone
	if obj := s.GetRecordsObject(); obj != "" {
		if z, err = f.loadObject(ctx, name, obj); err != nil {
			return err
		}
	} else if z, err = zonecache.Build(s); err != nil {
		return fmt.Errorf("build zone %q version %d: %w", name, s.GetHeader().GetVersion(), err)
	}
	if !f.cfg.Zones.Put(z) {
		f.m.updates.WithLabelValues(snapshot.ZonesBucket, "stale").Inc()
		return nil
	}
	if f.deltasStarted() {
		select {
		case f.deltaChecks <- name:
		default:
			f.log.Warn("delta check queue full; zone catches up at its next delta", zap.String("zone", name))
		}
	}
	f.m.updates.WithLabelValues(snapshot.ZonesBucket, "applied").Inc()
	f.m.zones.Set(float64(f.cfg.Zones.Len()))
	f.m.version.Set(float64(z.Version))
	f.log.Debug("zone applied", zap.String("zone", name), zap.Uint64("version", z.Version), zap.Int("names", z.Len()))
	if s.GetRecordsObject() != "" {
		f.releaseMemory()
	}
	return nil
}

// releaseMemory returns a large zone's load garbage (the encoded object,
// the zone version replaced: hundreds of MB) to the OS. The runtime's
// scavenger would keep it: it returns only what lies beyond GOGC's
// headroom over the live heap, twice the zones at the default.
//
// Not before the follower is ready: a full collection of a million-record
// zone's heap takes 0.6-1.3 s on two cores, and the cold start would wait
// for it once per large zone. Whoever waits for Ready returns the initial
// load's garbage once, after reporting ready (edge/node/loadgc.go). After
// ready, in the background and one at a time, so the watch goes on
// applying updates meanwhile: a release asked for while one runs makes it
// run once more.
func (f *Follower) releaseMemory() {
	select {
	case <-f.ready:
	default:
		return
	}
	if f.releases.Add(1) != 1 {
		return
	}
	go func() {
		for {
			n := f.releases.Load()
			debug.FreeOSMemory()
			if f.releases.CompareAndSwap(n, 0) {
				return
			}
			f.releases.Store(1)
		}
	}()
}

// minObjectRate is the slowest transfer of a zone object taken as progress.
// The object store client bounds a whole fetch by its default timeout (5 s)
// when the context has no deadline of its own: on a loaded two-core machine
// a 106 MB object took 2.7-4.7 s and often more, failed at 5 s ("nats:
// timeout", "read pipe: i/o timeout") and was fetched again from the start
// after a backoff, adding 10-80 s to the cold start. The deadline covers
// the index too, which runs while the object arrives: the million-record
// zone's took 1.6-3.5 s on the shared two-core machine and 14 s at worst
// under a load average of 4.5, against its 30 s.
const minObjectRate = 4 << 20 // bytes a second

// objectDeadline is how long fetching an object of size bytes may take.
func objectDeadline(size uint64) time.Duration {
	return 5*time.Second + time.Duration(size/minObjectRate)*time.Second
}

// errObjectUnavailable marks a zone whose object could not be fetched (it
// is missing, or the object store is): unlike a bad snapshot, one the
// control plane will republish, so the initial load waits for it.
var errObjectUnavailable = errors.New("zone object unavailable")

// loadObject loads a zone too large for a KV value from the object store,
// indexing its records as they arrive.
func (f *Follower) loadObject(ctx context.Context, name, object string) (*zonecache.Zone, error) {
	f.mu.Lock()
	os := f.objects
	f.mu.Unlock()
	if os == nil {
		var err error
		os, err = f.js.ObjectStore(ctx, snapshot.ObjectBucket)
		if err != nil {
			return nil, fmt.Errorf("%w: open object store %q for zone %q: %w", errObjectUnavailable, snapshot.ObjectBucket, name, err)
		}
		f.mu.Lock()
		f.objects = os
		f.mu.Unlock()
	}
	start := time.Now()
	meta, err := os.GetInfo(ctx, object)
	if err != nil {
		return nil, fmt.Errorf("%w: fetch object %q of zone %q: %w", errObjectUnavailable, object, name, err)
	}
	fctx, cancel := context.WithTimeout(ctx, objectDeadline(meta.Size))
	defer cancel()
	r, err := os.Get(fctx, object)
	if err != nil {
		return nil, fmt.Errorf("%w: fetch object %q of zone %q: %w", errObjectUnavailable, object, name, err)
	}
	defer r.Close()
	// The size of what Get reads (the object may have been replaced since
	// GetInfo).
	info, err := r.Info()
	if err != nil {
		return nil, fmt.Errorf("%w: object %q of zone %q: info: %w", errObjectUnavailable, object, name, err)
	}
	// The zone is indexed while the object arrives (the transfer and the
	// index take turns otherwise, and a copy of the whole object would be
	// held meanwhile). What the stream built is served only once the
	// object store's digest and the signature checked out at its end.
	sr := &sizeReader{r: r}
	st := zonecache.NewStream(int(info.Size))
	err = f.cfg.Verifier.OpenReader(snapshot.ObjectBinding(object), sr, st)
	fetched := time.Now()
	var readErr *snapshot.ReadError
	switch {
	case errors.As(err, &readErr):
		// A read that fails halfway (a timeout on a loaded NATS, the
		// object replaced while read, its digest not matching) is
		// unavailability, retried, not a bad zone.
		return nil, fmt.Errorf("%w: read object %q of zone %q: %w", errObjectUnavailable, object, name, readErr.Err)
	case err != nil:
		return nil, fmt.Errorf("object %q of zone %q: %w", object, name, err)
	case sr.n != info.Size:
		return nil, fmt.Errorf("%w: read object %q of zone %q: %d bytes, its size is %d", errObjectUnavailable, object, name, sr.n, info.Size)
	}
	z, err := st.Finish()
	if err != nil {
		return nil, fmt.Errorf("object %q of zone %q: %w", object, name, err)
	}
	f.log.Info("large zone loaded", zap.String("zone", name), zap.Uint64("version", z.Version), zap.Uint64("bytes", info.Size),
		zap.Int("names", z.Len()), zap.Duration("fetch", fetched.Sub(start)), zap.Duration("index", time.Since(fetched)))
	if z.Key != name {
		return nil, fmt.Errorf("object %q holds zone %q, want %q", object, z.Key, name)
	}
	return z, nil
}

// sizeReader counts what was read through it.
type sizeReader struct {
	r io.Reader
	n uint64
}

func (s *sizeReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += uint64(n)
	return n, err
}

func (f *Follower) dropZone(key string) {
	if f.cfg.Zones.Delete(snapshot.NameFromKey(key)) {
		f.m.zones.Set(float64(f.cfg.Zones.Len()))
		f.log.Info("zone removed", zap.String("zone", snapshot.NameFromKey(key)))
	}
}

func (f *Follower) applyAccount(_ context.Context, e jetstream.KeyValueEntry, data []byte) error {
	a, err := snapshot.UnmarshalAccount(data)
	if err != nil {
		return fmt.Errorf("account key %q: %w", e.Key(), err)
	}
	if a.GetAccountId() != e.Key() {
		return fmt.Errorf("account key %q holds account %q", e.Key(), a.GetAccountId())
	}
	if f.cfg.Accounts.Put(a) {
		f.m.updates.WithLabelValues(snapshot.AccountsBucket, "applied").Inc()
		f.log.Info("account settings applied", zap.String("account", a.GetAccountId()),
			zap.Uint64("version", a.GetVersion()), zap.Bool("enforce_dns_only", a.GetEnforceDnsOnly()))
	} else {
		f.m.updates.WithLabelValues(snapshot.AccountsBucket, "stale").Inc()
	}
	return nil
}

func (f *Follower) dropAccount(key string) { f.cfg.Accounts.Delete(key) }

// rejected counts and logs a value dropped because its signature is
// missing or does not verify; the version held keeps being served. The
// log names where it came from and why, nothing of its content.
func (f *Follower) rejected(bucket, key string, err error) {
	reason := snapshot.SignatureFailure(err)
	f.m.rejected.WithLabelValues(bucket, reason).Inc()
	f.log.Warn("snapshot rejected: signature missing or invalid; keeping the version held",
		zap.String("bucket", bucket), zap.String("key", key), zap.String("reason", reason), zap.Error(err))
}

type metrics struct {
	updates       *prometheus.CounterVec
	watchRestarts *prometheus.CounterVec
	watchStalls   *prometheus.CounterVec
	applySeconds  *prometheus.HistogramVec
	lagSeconds    *prometheus.HistogramVec
	zones         prometheus.Gauge
	version       prometheus.Gauge
	rejected      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "snapshot_updates_total",
			Help: "Snapshot updates received, by bucket and result (applied, stale, deleted, failed; deltas also duplicate, ignored, gap, gap_paused, unrecoverable).",
		}, []string{"bucket", "result"}),
		watchRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "snapshot_watch_restarts_total",
			Help: "Times a bucket watch had to be started again.",
		}, []string{"bucket"}),
		watchStalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "snapshot_watch_stalls_total",
			Help: "Times a bucket watch or the delta consumer was found stalled (a message its stream held went undelivered for a whole StallCheck) and started again; also counted in snapshot_watch_restarts_total.",
		}, []string{"bucket"}),
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "snapshot_apply_seconds",
			Help:    "Time to decode, fetch and index one snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"bucket"}),
		lagSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "snapshot_propagation_seconds",
			Help:    "Time from a snapshot's publication to its being served.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"bucket"}),
		zones: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "zones_loaded",
			Help: "Zones held in memory.",
		}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "snapshot_last_applied_version",
			Help: "Version of the last zone snapshot applied.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "snapshot_rejected_total",
			Help: "Snapshots, objects, deltas, account values and deletes dropped because their signature is missing or invalid, by bucket and reason (unsigned, unknown_key, bad_signature, malformed).",
		}, []string{"bucket", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.updates, m.watchRestarts, m.watchStalls, m.applySeconds, m.lagSeconds, m.zones, m.version, m.rejected)
	}
	return m
}
