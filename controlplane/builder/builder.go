// Package builder is the zone builder and publisher: it follows every
// change of the control-plane state in etcd, compiles each affected zone
// name into a self-contained snapshot and publishes it to NATS JetStream,
// where the edges pick it up; changes of large zones travel as deltas
// (delta.go). See README.md for the design.
package builder

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/zonegrid/zonegrid/controlplane/leader"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"google.golang.org/protobuf/proto"
)

// Config tunes the builder.
type Config struct {
	// SOARname is the SOA RNAME of every zone; default "dns.zonegrid.test.".
	SOARname string
	// PartialSuffix is where partial setups are served (their hostnames
	// below it); empty: under their own names.
	PartialSuffix string
	// KVReplicas is the replica count of the buckets it creates; default 1.
	KVReplicas int
	// Coalesce is the shortest time between the starts of two batches;
	// default 2ms. A change after a quiet spell is published at once;
	// one within Coalesce of the last batch's start waits for the rest of
	// the window, gathering what else arrives, so that a burst compiles
	// each zone at most once per window. Changes arriving while a batch
	// publishes are coalesced into the next batch anyway.
	Coalesce time.Duration
	// SessionTTL is the leader lease in seconds; default 2. A dead
	// leader's successor publishes within about this long (plus etcd's
	// half-second expiry check); every write of a leader is fenced by it
	// (fence.go). etcd refuses leases shorter than its minimum (1.5 s with
	// default timing).
	SessionTTL int
	// ReconcileInterval is how often the leader compares what NATS holds
	// with etcd and republishes what is missing, older or divergent
	// (reconcile.go); default 1 minute, negative: only when it becomes
	// leader.
	ReconcileInterval time.Duration
	// ID names this builder in the election; default host name + pid.
	ID string
	// Registerer receives the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Trace, when set, receives when the stages of each published batch
	// ended (trace.go; the propagation benchmark); nil: off, a nil check
	// a batch.
	Trace TraceFunc

	// DeltaThreshold is the record count from which a zone's changes are
	// published as deltas (see README.md); default 5000, negative: never.
	DeltaThreshold int
	// DeltaChainMax is how many deltas may follow a zone's full snapshot
	// before it is rewritten; default 1000.
	DeltaChainMax int
	// FullEvery is the longest a delta zone's full snapshot may lag behind
	// its deltas; default 60s.
	FullEvery time.Duration
	// DeltaMaxAge and DeltaMaxBytes limit the delta stream; defaults 1h
	// and 1 GiB. DeltaMaxAge must stay well above FullEvery.
	DeltaMaxAge   time.Duration
	DeltaMaxBytes int64

	// CacheZoneRecords is the largest zone (in records) whose records the
	// builder keeps in memory between compiles (cache.go); default 10,000,
	// negative: no zone cache (every compile reads etcd). CacheRecords
	// bounds the records kept for all zones (default 100,000, ~70 MB) and
	// CacheZones the zones whose zone, settings, DNSSEC state and transfer
	// configuration are kept (default 50,000); past them, random others
	// are forgotten and read from etcd again when they change.
	CacheZoneRecords int
	CacheRecords     int
	CacheZones       int

	// Signer signs every value published (zone and account values, zone
	// objects, deltas; see pkg/snapshot/sign.go); nil publishes them
	// unsigned. With a signer, a name no longer served gets a signed
	// tombstone instead of a deleted key, since edges that verify ignore
	// deletes nobody signed.
	Signer *snapshot.Signer
}

// Builder compiles and publishes zones. Create with New, run with Run.
type Builder struct {
	st    *store.Store
	nc    *nats.Conn
	js    jetstream.JetStream
	cfg   Config
	log   *zap.Logger
	m     *metrics
	opts  CompileOptions
	zones jetstream.KeyValue
	accts jetstream.KeyValue
	objs  jetstream.ObjectStore
	// verify checks what the builder reads back (recoverState) against
	// its own key; nil when not signing.
	verify *snapshot.Verifier
	// names whose snapshot currently lives in the object store.
	inObjects map[string]bool
	// zone id → name; ids never change name, so entries never go stale.
	names map[string]string
	// tree holds every zone name at the revision being followed, to find
	// the zones below a change (shadow.go). Only the main loop uses it.
	tree *nameTree
	// cache holds small zones' data at the revision being followed, fed
	// by the watch, so that a compile reads nothing from etcd (cache.go).
	cache *zoneCache

	// mu guards inObjects and zstate, which the background rewriter
	// shares with the main loop.
	mu     sync.Mutex
	zstate map[string]*zoneState
	// kept holds the encodings rewrites put (rewrite.go); unlike zstate
	// it outlives a term, since a rewrite checks the version it is of.
	kept map[string]keptEncoding
	// rewrites feeds the background full-snapshot writer.
	rewrites chan string
	// published is the last revision whose changes are all published.
	published atomic.Int64
	// fence bounds the leader's writes by its election lease (fence.go);
	// nil while not leading.
	fence atomic.Pointer[fence]
	// refill is set when a bucket or the delta stream had to be created:
	// the next reconcile republishes every name. Main loop only.
	refill bool
}

// New returns a builder publishing through nc. It does not touch the
// network until Run.
func New(st *store.Store, nc *nats.Conn, cfg Config, log *zap.Logger) (*Builder, error) {
	if cfg.SOARname == "" {
		cfg.SOARname = "dns.zonegrid.test."
	}
	if cfg.KVReplicas <= 0 {
		cfg.KVReplicas = 1
	}
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 2 * time.Millisecond
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 2
	}
	if cfg.ReconcileInterval == 0 {
		cfg.ReconcileInterval = time.Minute
	}
	if cfg.DeltaThreshold == 0 {
		cfg.DeltaThreshold = 5000
	}
	if cfg.DeltaChainMax <= 0 {
		cfg.DeltaChainMax = 1000
	}
	if cfg.FullEvery <= 0 {
		cfg.FullEvery = time.Minute
	}
	if cfg.DeltaMaxAge <= 0 {
		cfg.DeltaMaxAge = max(time.Hour, 10*cfg.FullEvery)
	}
	if cfg.DeltaMaxBytes <= 0 {
		cfg.DeltaMaxBytes = 1 << 30
	}
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("builder: jetstream context: %w", err)
	}
	var verify *snapshot.Verifier
	if cfg.Signer != nil {
		if verify, err = snapshot.NewVerifier(cfg.Signer.PublicKey()); err != nil {
			return nil, fmt.Errorf("builder: %w", err)
		}
		log.Info("snapshots are signed", zap.String("key_id", cfg.Signer.KeyID()))
	}
	m := newMetrics(cfg.Registerer)
	return &Builder{
		st: st, nc: nc, js: js, cfg: cfg, log: log, m: m, verify: verify,
		cache:     newZoneCache(cfg, st.DataPrefix()+"records/", m),
		opts:      CompileOptions{SOARname: cfg.SOARname, PartialSuffix: cfg.PartialSuffix},
		inObjects: map[string]bool{},
		names:     map[string]string{},
		tree:      newNameTree(),
		zstate:    map[string]*zoneState{},
		rewrites:  make(chan string, 1024),
	}, nil
}

// Run campaigns for leadership and, while leader, publishes every change.
// It returns only when ctx ends; failures are logged and retried from the
// last stored revision (publishing is at-least-once, edges ignore versions
// they already have).
func (b *Builder) Run(ctx context.Context) error {
	leader.Run(ctx, leader.Config{
		Client: b.st.Client(), Key: b.st.Prefix() + "/meta/builder/election", ID: b.cfg.ID, TTL: b.cfg.SessionTTL,
		Name: "builder", Log: b.log, Leading: b.m.leader,
		Deposed: func(err error) bool { return errors.Is(err, errDeposed) },
	}, b.term)
	return nil
}

// term is one term's duties: publishing under the session's lease.
func (b *Builder) term(ctx context.Context, sess *concurrency.Session) error {
	b.fence.Store(newFence(b.st.Client(), sess.Lease(), b.cfg.SessionTTL))
	defer b.fence.Store(nil)
	// Another builder may have published meanwhile: what this one knew
	// about versions and delta chains is void. The zone cache starts over
	// with each watch (loadTree).
	b.cache.reset(0, nil)
	defer b.cache.reset(0, nil)
	b.mu.Lock()
	b.zstate = map[string]*zoneState{}
	b.mu.Unlock()
	if err := b.ensureBuckets(ctx, true); err != nil {
		return err
	}
	go b.rewriter(ctx)
	return b.lead(ctx)
}

// ensureBuckets opens the buckets, the object store and the delta stream,
// creating what is missing. A store that had to be created while zones may
// exist (NATS lost its state, or someone deleted it) sets refill, so that
// the next reconcile republishes everything; a KV bucket created so is
// marked snapshot.FillingMetadata until then, so edges do not take its
// partial listing for the whole. At start (update) existing buckets get
// the configured settings; the periodic check only looks.
func (b *Builder) ensureBuckets(ctx context.Context, update bool) error {
	var err error
	if b.zones, err = b.ensureKV(ctx, update, jetstream.KeyValueConfig{
		Bucket: snapshot.ZonesBucket, History: 1, Storage: jetstream.FileStorage, Replicas: b.cfg.KVReplicas,
		Description: "zonegrid zone snapshots",
	}); err != nil {
		return err
	}
	if b.accts, err = b.ensureKV(ctx, update, jetstream.KeyValueConfig{
		Bucket: snapshot.AccountsBucket, History: 1, Storage: jetstream.FileStorage, Replicas: b.cfg.KVReplicas,
		Description: "zonegrid account settings",
	}); err != nil {
		return err
	}
	objsMissing := false
	if b.objs, err = b.js.ObjectStore(ctx, snapshot.ObjectBucket); errors.Is(err, jetstream.ErrBucketNotFound) {
		objsMissing = true
	} else if err != nil {
		return fmt.Errorf("open object store %s: %w", snapshot.ObjectBucket, err)
	}
	if objsMissing || update {
		if err := b.guarded(ctx, func(ctx context.Context) error {
			b.objs, err = b.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
				Bucket: snapshot.ObjectBucket, Storage: jetstream.FileStorage, Replicas: b.cfg.KVReplicas,
				Description: "zonegrid zone snapshots too large for one message",
			})
			return err
		}); err != nil {
			return fmt.Errorf("create object store %s: %w", snapshot.ObjectBucket, err)
		}
	}
	if _, err := b.js.Stream(ctx, snapshot.DeltaStream); errors.Is(err, jetstream.ErrStreamNotFound) {
		b.log.Warn("delta stream missing: creating it, every zone will be republished", zap.String("stream", snapshot.DeltaStream))
		b.refill = true
		if err := b.ensureDeltaStream(ctx); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("open stream %s: %w", snapshot.DeltaStream, err)
	} else if update {
		if err := b.ensureDeltaStream(ctx); err != nil {
			return err
		}
	}
	if objsMissing {
		b.log.Warn("object store missing: created it, every zone will be republished", zap.String("bucket", snapshot.ObjectBucket))
		b.refill = true
	}
	if !update && !b.refill {
		return nil
	}
	if b.refill {
		// Delta chains and object copies the builder remembers may be gone
		// with the stores: every name is republished whole.
		b.mu.Lock()
		b.zstate = map[string]*zoneState{}
		b.mu.Unlock()
	}
	// Remember which zones live in the object store, so that one which
	// shrinks back into a KV value gets its stale object removed.
	objs, err := b.objs.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return fmt.Errorf("list object store %s: %w", snapshot.ObjectBucket, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inObjects = map[string]bool{}
	for _, o := range objs {
		b.inObjects[snapshot.NameFromKey(o.Name)] = true
	}
	return nil
}

// ensureKV opens a KV bucket, creating it (marked as filling) when missing.
// An existing bucket keeps its filling mark: a builder that died while
// filling it leaves it to the next reconcile.
func (b *Builder) ensureKV(ctx context.Context, update bool, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := b.js.KeyValue(ctx, cfg.Bucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		b.log.Warn("kv bucket missing: creating it, every zone will be republished", zap.String("bucket", cfg.Bucket))
		b.refill = true
		cfg.Metadata = map[string]string{snapshot.FillingMetadata: b.cfg.ID}
	case err != nil:
		return nil, fmt.Errorf("open kv bucket %s: %w", cfg.Bucket, err)
	case !update:
		return kv, nil
	default:
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("kv bucket %s status: %w", cfg.Bucket, err)
		}
		if v, ok := st.Metadata()[snapshot.FillingMetadata]; ok {
			cfg.Metadata = map[string]string{snapshot.FillingMetadata: v}
			b.refill = true
		}
	}
	if err := b.guarded(ctx, func(ctx context.Context) error {
		kv, err = b.js.CreateOrUpdateKeyValue(ctx, cfg)
		return err
	}); err != nil {
		return nil, fmt.Errorf("create kv bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// lead publishes until ctx ends or something fails.
func (b *Builder) lead(ctx context.Context) error {
	rev, err := b.st.BuilderRevision(ctx)
	if err != nil {
		return err
	}
	if rev == 0 {
		if rev, err = b.fullRebuild(ctx); err != nil {
			return err
		}
		b.refill = false // everything was just published at rev
	}
	b.published.Store(rev)
	for {
		err := b.loadTree(ctx, rev)
		last := rev
		if err == nil {
			last, err = b.follow(ctx, rev)
		}
		if !errors.Is(err, rpctypes.ErrCompacted) {
			return err
		}
		b.log.Warn("builder revision compacted, rebuilding everything", zap.Int64("revision", last))
		if rev, err = b.fullRebuild(ctx); err != nil {
			return err
		}
	}
}

// batch is the set of things a run of watch events touched.
type batch struct {
	names    map[string]bool
	zoneIDs  map[string]bool
	accounts map[string]bool
	// headers holds the names whose zones, zone settings or zone list
	// changed: their header (or serving zone) may differ.
	headers map[string]bool
	// settingsOf lists zone ids with a settings change whose name was not
	// known yet.
	settingsOf []string
	// rewrite lists delta zones whose chain reached its limit.
	rewrite []string
	// records holds the last change of each record id, by zone id: the
	// content of a delta.
	records map[string]map[string]*recordChange
	rev     int64
	// xfrAccounts holds accounts whose TSIG keys, peers or ACLs changed
	// (transfer.go): their zones with a transfer configuration get a new
	// header.
	xfrAccounts map[string]bool
}

func newBatch() *batch {
	return &batch{names: map[string]bool{}, zoneIDs: map[string]bool{}, accounts: map[string]bool{},
		headers: map[string]bool{}, records: map[string]map[string]*recordChange{}}
}

func (b *Builder) addEvent(bt *batch, ev *clientv3.Event) {
	dk := b.st.ParseDataKey(string(ev.Kv.Key))
	var zone *dnsv1.Zone  // a zone put's value, decoded
	var rec *dnsv1.Record // a record put's value, decoded
	defer func() { b.cache.apply(dk, ev, zone, rec) }()
	switch dk.Kind {
	case store.KindAccountSettings:
		bt.accounts[dk.AccountID] = true
	case store.KindZoneName:
		bt.names[dk.Name] = true
		bt.headers[dk.Name] = true
		if ev.Type == clientv3.EventTypeDelete {
			b.tree.remove(dk.Name, dk.AccountID)
		} else {
			b.tree.add(dk.Name, dk.AccountID)
		}
		// A zone appearing or going above others changes who governs them.
		b.touchBelow(bt, dk.Name, false)
	case store.KindZone:
		if ev.Type == clientv3.EventTypeDelete {
			// DeleteZone removes the zonenames key in the same transaction;
			// that event names the zone.
			delete(b.names, dk.ZoneID) // keep the cache bounded by live zones
			return
		}
		z := &dnsv1.Zone{}
		if err := proto.Unmarshal(ev.Kv.Value, z); err == nil && z.GetName() != "" {
			zone = z
			bt.names[z.GetName()] = true
			bt.headers[z.GetName()] = true
			b.names[dk.ZoneID] = z.GetName()
			// Its status may have changed: that decides the zones below.
			b.touchBelow(bt, z.GetName(), false)
		} else {
			bt.zoneIDs[dk.ZoneID] = true // publishBatch reports it as corrupt
		}
	case store.KindTransferAccount:
		bt.addTransferAccount(dk.AccountID)
	case store.KindZoneSettings, store.KindRecord, store.KindRecordID, store.KindZoneMark, store.KindDnssec, store.KindTransferZone:
		if dk.Kind == store.KindRecord {
			rec = bt.addRecordEvent(dk.ZoneID, ev)
			b.delegationEvent(bt, dk)
		}
		n, ok := b.names[dk.ZoneID]
		if !ok {
			bt.zoneIDs[dk.ZoneID] = true
			if dk.Kind == store.KindZoneSettings || dk.Kind == store.KindDnssec || dk.Kind == store.KindTransferZone {
				bt.settingsOf = append(bt.settingsOf, dk.ZoneID)
			}
			return
		}
		bt.names[n] = true
		// A record at the apex can change the header too: with
		// multi-provider DNS the user's apex NS records join the served
		// NS set (compile.go, servedNameservers).
		if dk.Kind == store.KindZoneSettings || dk.Kind == store.KindDnssec || dk.Kind == store.KindTransferZone ||
			(dk.Kind == store.KindRecord && dk.Name == n) {
			bt.headers[n] = true
		}
	}
}

// follow watches from rev+1 and publishes batch after batch, returning the
// last published revision with the error that stopped it.
func (b *Builder) follow(ctx context.Context, rev int64) (int64, error) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := b.st.Client().Watch(wctx, b.st.DataPrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	// The zone cache mirrors this watch (from loadTree's revision on);
	// whatever follows it starts it over.
	defer b.cache.reset(0, nil)
	b.log.Info("builder following changes", zap.Int64("from_revision", rev+1))
	// What NATS holds is compared with etcd before anything else and then
	// every ReconcileInterval (reconcile.go): a store lost while no
	// builder led, or a builder resuming from a revision whose snapshots
	// NATS no longer holds, is repaired here.
	if err := b.reconcile(ctx, rev); err != nil {
		return rev, err
	}
	var reconcileC <-chan time.Time
	if b.cfg.ReconcileInterval > 0 {
		rt := time.NewTicker(b.cfg.ReconcileInterval)
		defer rt.Stop()
		reconcileC = rt.C
	}
	// A reconnect to NATS is a possible gap: the server may have come back
	// with less than it had (a wiped or restored store). Checked every
	// second: the connection's counter costs nothing to read.
	reconnects := b.nc.Stats().Reconnects
	gapTick := time.NewTicker(time.Second)
	defer gapTick.Stop()
	// Delta zones whose full snapshot got old are rewritten in the
	// background; checking a few times per FullEvery is enough.
	tick := time.NewTicker(max(b.cfg.FullEvery/4, 10*time.Millisecond))
	defer tick.Stop()
	// started is when the last batch started publishing: batches start at
	// least Coalesce apart.
	var started time.Time
	var storing revisionStore
	defer func() { _ = storing.wait() }()
	for {
		bt := newBatch()
		var tr *batchTrace // nil unless a benchmark traces (trace.go)
		// Block for the first response. A change after a quiet spell is
		// published at once (waiting for more would only delay it); within
		// Coalesce of the last batch's start, the rest of the window
		// gathers what else arrives, so a burst compiles each zone at most
		// once per Coalesce (plus what arrives while a batch publishes,
		// which joins the next one).
	first:
		for {
			select {
			case <-ctx.Done():
				return rev, ctx.Err()
			case <-tick.C:
				b.dueRewrites()
			case <-reconcileC:
				if err := b.reconcile(ctx, rev); err != nil {
					return rev, err
				}
			case <-gapTick.C:
				if n := b.nc.Stats().Reconnects; n != reconnects {
					reconnects = n
					b.log.Info("reconnected to NATS: comparing what it holds with etcd")
					if err := b.reconcile(ctx, rev); err != nil {
						return rev, err
					}
				}
			case resp, ok := <-wch:
				tr = b.newBatchTrace(time.Now())
				if err := b.absorb(bt, resp, ok); err != nil {
					return rev, err
				}
				break first
			}
		}
		if err := b.gather(ctx, bt, wch, b.cfg.Coalesce-time.Since(started)); err != nil {
			return rev, err
		}
		if bt.rev <= rev {
			continue
		}
		started = time.Now()
		if tr != nil {
			tr.t.Coalesced = started
		}
		b.m.lagRevisions.Set(float64(bt.rev - rev))
		if err := b.publishBatch(withTrace(ctx, tr), bt); err != nil {
			return rev, err
		}
		if tr != nil {
			tr.t.Published = time.Now()
		}
		// The revision is stored while the next batch gathers and
		// publishes (an etcd write with fsync, milliseconds a change
		// arriving meanwhile used to wait); one store at a time, in order.
		// A failure surfaces at the next batch, which restarts the builder
		// from the revision stored last: publishing stays at-least-once.
		if err := storing.wait(); err != nil {
			return rev, err
		}
		storing.start(ctx, b.st, bt.rev, tr)
		rev = bt.rev
		b.published.Store(rev)
		b.m.publishedRevision.Set(float64(rev))
		for _, name := range bt.rewrite {
			b.scheduleRewrite(name)
		}
		b.m.lagRevisions.Set(0)
	}
}

// revisionStore stores the published revision in the background, one
// store at a time.
type revisionStore struct {
	done chan error // nil: none in flight
}

func (s *revisionStore) start(ctx context.Context, st *store.Store, rev int64, tr *batchTrace) {
	s.done = make(chan error, 1)
	go func() {
		err := st.SetBuilderRevision(ctx, rev)
		if tr != nil {
			tr.t.Stored = time.Now()
			tr.report(rev)
		}
		s.done <- err
	}()
}

// wait returns the outcome of the store in flight, if any.
func (s *revisionStore) wait() error {
	if s.done == nil {
		return nil
	}
	err := <-s.done
	s.done = nil
	return err
}

// gather adds to bt the watch responses arriving within wait, and then
// those already queued (wait ≤ 0: only those).
func (b *Builder) gather(ctx context.Context, bt *batch, wch clientv3.WatchChan, wait time.Duration) error {
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
	window:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
				break window
			case resp, ok := <-wch:
				if err := b.absorb(bt, resp, ok); err != nil {
					return err
				}
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case resp, ok := <-wch:
			if err := b.absorb(bt, resp, ok); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (b *Builder) absorb(bt *batch, resp clientv3.WatchResponse, ok bool) error {
	if !ok {
		return errors.New("etcd watch closed")
	}
	if resp.CompactRevision != 0 {
		return rpctypes.ErrCompacted
	}
	if err := resp.Err(); err != nil {
		return fmt.Errorf("etcd watch: %w", err)
	}
	// The revision the response covers: with events, its last event's.
	// etcd's header may name a later one: a watch more than 1,000
	// revisions behind (a builder resuming after writes made without it)
	// gets them in several responses, each with the header of the store's
	// current revision (mvcc watchBatchMaxRevs). A batch at the header's
	// revision published zones changed in the responses still to come as
	// if they had not changed, stored that revision, and dropped those
	// responses as already published (bt.rev ≤ rev); clientv3 resumes a
	// watch from the last event too.
	covered := resp.Header.Revision
	if n := len(resp.Events); n > 0 {
		covered = resp.Events[n-1].Kv.ModRevision
	}
	b.cache.absorbing()
	for _, ev := range resp.Events {
		b.addEvent(bt, ev)
	}
	b.cache.done(covered)
	if covered > bt.rev {
		bt.rev = covered
	}
	return nil
}

// publishParallelism bounds the zones read and published at once.
const publishParallelism = 16

// inParallel runs fn for every item, publishParallelism at a time, and
// returns the first error (cancelling the rest). Zones are independent of
// one another: reading and publishing them in parallel keeps a burst of
// thousands (an account onboarding, a full rebuild) from queueing behind
// one etcd read and one JetStream acknowledgement at a time.
func inParallel(ctx context.Context, items []string, fn func(ctx context.Context, item string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(publishParallelism)
	for _, it := range items {
		g.Go(func() error { return fn(gctx, it) })
	}
	return g.Wait()
}

// publishBatch compiles and publishes every name and account of the batch
// at the batch's revision.
func (b *Builder) publishBatch(ctx context.Context, bt *batch) error {
	start := time.Now()
	var mu sync.Mutex
	err := inParallel(ctx, slices.Collect(maps.Keys(bt.zoneIDs)), func(ctx context.Context, id string) error {
		z, err := b.st.GetZoneAt(ctx, id, bt.rev)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted: its zonenames delete event names it
		}
		if err != nil {
			return b.skipPermanent(err, "zone_id", id)
		}
		mu.Lock()
		defer mu.Unlock()
		b.names[id] = z.GetName()
		bt.names[z.GetName()] = true
		if slices.Contains(bt.settingsOf, id) {
			bt.headers[z.GetName()] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.addTransferAccounts(ctx, bt); err != nil {
		return err
	}
	if err := inParallel(ctx, slices.Collect(maps.Keys(bt.names)), func(ctx context.Context, name string) error {
		return b.skipPermanent(b.publishChange(ctx, bt, name), "zone", name)
	}); err != nil {
		return err
	}
	if err := inParallel(ctx, slices.Collect(maps.Keys(bt.accounts)), func(ctx context.Context, acct string) error {
		return b.skipPermanent(b.publishAccount(ctx, acct, bt.rev), "account", acct)
	}); err != nil {
		return err
	}
	b.m.publishSeconds.Observe(time.Since(start).Seconds())
	b.log.Debug("published batch", zap.Int64("revision", bt.rev),
		zap.Int("names", len(bt.names)), zap.Int("accounts", len(bt.accounts)))
	return nil
}

// skipPermanent logs and swallows errors retrying cannot fix, so one bad
// zone or account does not stall publishing for all others; other errors
// pass through and make the builder retry from its stored revision.
func (b *Builder) skipPermanent(err error, kind, id string) error {
	if err == nil || !(errors.Is(err, store.ErrCorrupt) || errors.Is(err, errUnpublishable)) {
		return err
	}
	b.m.skipped.Inc()
	b.log.Error("skipped: cannot publish", zap.String(kind, id), zap.Error(err))
	return nil
}

// fullRebuild publishes every zone name and account at the current
// revision, removes snapshots of names that no longer exist, and stores the
// revision.
func (b *Builder) fullRebuild(ctx context.Context) (int64, error) {
	b.m.fullRebuilds.Inc()
	rev, err := b.st.CurrentRevision(ctx)
	if err != nil {
		return 0, err
	}
	names, err := b.st.ZoneNamesAt(ctx, rev)
	if err != nil {
		return 0, err
	}
	b.log.Info("builder full rebuild", zap.Int64("revision", rev), zap.Int("names", len(names)))
	live := map[string]bool{}
	for _, n := range names {
		live[snapshot.ZoneKey(n)] = true
	}
	if err := inParallel(ctx, names, func(ctx context.Context, n string) error {
		return b.skipPermanent(b.publishFull(ctx, n, rev, false), "zone", n)
	}); err != nil {
		return 0, err
	}
	keys, err := b.zones.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return 0, fmt.Errorf("list kv bucket %s: %w", snapshot.ZonesBucket, err)
	}
	for _, k := range keys {
		if !live[k] {
			if b.isTombstone(ctx, k) {
				continue // unpublished before; nothing to do again
			}
			if err := b.publishFull(ctx, snapshot.NameFromKey(k), rev, false); err != nil {
				return 0, err
			}
		}
	}
	objs, err := b.objs.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, fmt.Errorf("list object store %s: %w", snapshot.ObjectBucket, err)
	}
	b.mu.Lock()
	inObjects := maps.Clone(b.inObjects)
	b.mu.Unlock()
	for _, o := range objs {
		if !inObjects[snapshot.NameFromKey(o.Name)] {
			if err := b.guarded(ctx, func(ctx context.Context) error {
				return b.objs.Delete(ctx, o.Name)
			}); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return 0, fmt.Errorf("delete stale object %s: %w", o.Name, err)
			}
		}
	}
	accts, err := b.st.AccountsWithSettingsAt(ctx, rev)
	if err != nil {
		return 0, err
	}
	if err := inParallel(ctx, accts, func(ctx context.Context, a string) error {
		return b.skipPermanent(b.publishAccount(ctx, a, rev), "account", a)
	}); err != nil {
		return 0, err
	}
	if err := b.st.SetBuilderRevision(ctx, rev); err != nil {
		return 0, err
	}
	b.published.Store(rev)
	b.m.publishedRevision.Set(float64(rev))
	return rev, nil
}
