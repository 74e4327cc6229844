package builder

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// The builder keeps what a compile reads of small zones in memory, fed by
// its etcd watch, so that publishing a change reads nothing from etcd: the
// reads were the largest stage of propagation (about 1.1 ms at p50, 2.6–3.1
// ms at p99 of the ~2.5 ms path on a quiet machine; docs/BENCHMARKS.md,
// "Propagation"), and a compile about once per group commit cost record
// writes on one core.
//
// The copy mirrors etcd at exactly one revision, rev: the watch events up
// to rev are all applied and none after (absorb applies a whole watch
// response at once, and a batch compiles at the revision its responses
// cover, which is rev while it publishes). A compile uses it only when it
// compiles at rev and every piece it needs is held; anything else
// (another revision, a piece not held, a zone over the size bound, a value
// that does not decode) reads etcd as before, and what was read at rev is
// kept for the next compile. Every new watch (a new term, a restart, a
// compacted revision) starts over from an empty copy: events are never
// applied across a gap.

// Defaults of the bounds (Config.CacheZoneRecords, CacheRecords,
// CacheZones).
const (
	defaultCacheZoneRecords = 10_000
	defaultCacheRecords     = 100_000
	defaultCacheZones       = 50_000
)

// zoneCache is the builder's copy of small zones; see above. Safe for
// concurrent use: the zones of a batch compile in parallel, and the
// background rewriter may compile while the main loop applies events.
type zoneCache struct {
	mu sync.RWMutex
	// rev is the revision mirrored; 0: off (no watch is being followed).
	rev int64
	// byName is every zonenames entry at rev: zone name → account → zone
	// id. Complete while on (loaded with the name tree).
	byName map[string]map[string]string
	// zones holds the pieces known of some zones, by zone id.
	zones map[string]*cachedZone
	// records counts the records held, all zones.
	records int

	maxZoneRecords, maxRecords, maxZones int
	// recordsPrefix is the data prefix of record keys, "…/data/records/".
	recordsPrefix string
	// disabled: Config.CacheZoneRecords < 0.
	disabled bool
	// buf is packing's scratch space; used under the write lock.
	buf []byte

	hits, misses func() // metrics
}

// cachedZone is what the copy holds of one zone: each piece is either
// known (has*) as it is at the cache's revision, or unknown. A piece
// known absent is known: a zone without settings, DNSSEC state or
// transfer configuration.
type cachedZone struct {
	zone    *dnsv1.Zone // nil: the zone does not exist
	hasZone bool

	settings    *dnsv1.ZoneSettings
	hasSettings bool

	dnssec    *dnsv1.DnssecState
	hasDnssec bool

	xfrIn  *dnsv1.IncomingTransfer
	xfrOut *dnsv1.OutgoingTransfer
	hasXfr bool

	// recs are every record of the zone sorted by key (reversed owner
	// name, then id: the order of a read from etcd). Records are never
	// modified in place, only replaced, so a compile may use them
	// without the lock.
	recs    []keyedRecord
	hasRecs bool
}

type keyedRecord struct {
	key string // below the zone's records prefix: "<reversed name>/<id>"
	rec *dnsv1.Record
	// packed is rec compiled (packSnapshotRecord), nil when it does not
	// compile (the compile then reports it, as from etcd).
	packed *snapshot.Record
}

// keyed returns the cache's form of a record.
func keyed(key string, r *dnsv1.Record, buf []byte) keyedRecord {
	p, _ := packSnapshotRecord(r, buf)
	return keyedRecord{key: key, rec: r, packed: p}
}

func newZoneCache(cfg Config, recordsPrefix string, m *metrics) *zoneCache {
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	return &zoneCache{
		maxZoneRecords: def(cfg.CacheZoneRecords, defaultCacheZoneRecords),
		maxRecords:     max(def(cfg.CacheRecords, defaultCacheRecords), 0),
		maxZones:       max(def(cfg.CacheZones, defaultCacheZones), 0),
		disabled:       cfg.CacheZoneRecords < 0,
		recordsPrefix:  recordsPrefix,
		buf:            make([]byte, dns.MaxMsgSize),
		hits:           m.cacheLookups.WithLabelValues("hit").Inc,
		misses:         m.cacheLookups.WithLabelValues("miss").Inc,
	}
}

// reset starts the copy over at rev, the revision a new watch continues
// from, with the complete zonenames index at rev; rev 0 turns it off and
// frees it.
func (c *zoneCache) reset(rev int64, names []store.ZoneNameKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.zones, c.byName, c.records, c.rev = nil, nil, 0, 0
	if rev == 0 || c.disabled {
		return
	}
	c.rev = rev
	c.zones = map[string]*cachedZone{}
	c.byName = make(map[string]map[string]string, len(names))
	for _, k := range names {
		c.indexName(k.Name, k.AccountID, k.ZoneID)
	}
}

func (c *zoneCache) indexName(name, acct, zoneID string) {
	m := c.byName[name]
	if m == nil {
		m = map[string]string{}
		c.byName[name] = m
	}
	m[acct] = zoneID
}

// absorbing holds the lock while the main loop applies one watch
// response (event by event, from addEvent); done sets the revision the
// response covers.
func (c *zoneCache) absorbing() { c.mu.Lock() }
func (c *zoneCache) done(rev int64) {
	if c.rev != 0 && rev > c.rev {
		c.rev = rev
	}
	c.mu.Unlock()
}

// apply applies one watch event; the caller holds the lock (absorbing).
// z is the zone of a zone put event, already decoded (nil: it does not
// decode); rec the record of a record put event (nil: decode it here).
func (c *zoneCache) apply(dk store.DataKey, ev *clientv3.Event, z *dnsv1.Zone, rec *dnsv1.Record) {
	if c.rev == 0 {
		return
	}
	del := ev.Type == clientv3.EventTypeDelete
	switch dk.Kind {
	case store.KindZoneName:
		if del {
			if m := c.byName[dk.Name]; m != nil {
				delete(m, dk.AccountID)
				if len(m) == 0 {
					delete(c.byName, dk.Name)
				}
			}
			return
		}
		c.indexName(dk.Name, dk.AccountID, string(ev.Kv.Value))
		return
	case store.KindZone:
		if del || z == nil {
			c.drop(dk.ZoneID) // unknown again: a later compile reads etcd
			return
		}
		e := c.zones[dk.ZoneID]
		if e == nil {
			if e = c.entry(dk.ZoneID); e == nil {
				return
			}
		}
		e.zone, e.hasZone = z, true
		return
	}
	// The other pieces are kept only for zones the copy holds already:
	// a zone's entry is made by its zone's events and by reads.
	e := c.zones[dk.ZoneID]
	if e == nil {
		return
	}
	switch dk.Kind {
	case store.KindZoneSettings:
		e.settings, e.hasSettings = &dnsv1.ZoneSettings{}, true // absent: what ZoneSettingsAt gives
		if !del && proto.Unmarshal(ev.Kv.Value, e.settings) != nil {
			e.settings, e.hasSettings = nil, false // etcd's read reports it
		}
	case store.KindDnssec:
		e.dnssec, e.hasDnssec = nil, true
		if !del {
			e.dnssec = &dnsv1.DnssecState{}
			if proto.Unmarshal(ev.Kv.Value, e.dnssec) != nil {
				e.dnssec, e.hasDnssec = nil, false
			}
		}
	case store.KindTransferZone:
		if !e.hasXfr {
			return
		}
		key := string(ev.Kv.Key)
		var err error
		switch store.TransferDirection(key[strings.LastIndexByte(key, '/')+1:]) {
		case store.TransferIncoming:
			e.xfrIn = nil
			if !del {
				e.xfrIn = &dnsv1.IncomingTransfer{}
				err = proto.Unmarshal(ev.Kv.Value, e.xfrIn)
			}
		case store.TransferOutgoing:
			e.xfrOut = nil
			if !del {
				e.xfrOut = &dnsv1.OutgoingTransfer{}
				err = proto.Unmarshal(ev.Kv.Value, e.xfrOut)
			}
		}
		if err != nil {
			e.xfrIn, e.xfrOut, e.hasXfr = nil, nil, false
		}
	case store.KindRecord:
		if !e.hasRecs {
			return
		}
		key, ok := strings.CutPrefix(string(ev.Kv.Key), c.recordsPrefix+dk.ZoneID+"/")
		if !ok {
			c.dropRecords(e)
			return
		}
		i, found := slices.BinarySearchFunc(e.recs, key, func(k keyedRecord, key string) int { return strings.Compare(k.key, key) })
		if del {
			if found {
				e.recs = slices.Delete(e.recs, i, i+1)
				c.records--
			}
			return
		}
		if rec == nil {
			rec = &dnsv1.Record{}
			if proto.Unmarshal(ev.Kv.Value, rec) != nil {
				c.dropRecords(e) // etcd's read reports the record as corrupt
				return
			}
		}
		if found {
			e.recs[i] = keyed(key, rec, c.buf)
			return
		}
		if len(e.recs) >= c.maxZoneRecords || c.records >= c.maxRecords {
			c.dropRecords(e) // grown past the bound: read from etcd
			return
		}
		e.recs = slices.Insert(e.recs, i, keyed(key, rec, c.buf))
		c.records++
	}
}

// entry returns a new entry for zoneID, evicting another one when the
// copy holds CacheZones zones; nil when it may hold none.
func (c *zoneCache) entry(zoneID string) *cachedZone {
	if c.maxZones == 0 {
		return nil
	}
	for id := range c.zones { // map order: a random victim
		if len(c.zones) < c.maxZones {
			break
		}
		c.drop(id)
	}
	e := &cachedZone{}
	c.zones[zoneID] = e
	return e
}

func (c *zoneCache) drop(zoneID string) {
	if e := c.zones[zoneID]; e != nil {
		c.records -= len(e.recs)
		delete(c.zones, zoneID)
	}
}

func (c *zoneCache) dropRecords(e *cachedZone) {
	c.records -= len(e.recs)
	e.recs, e.hasRecs = nil, false
}

// errCacheMiss: the copy cannot answer; the compile reads etcd.
type cacheMiss struct{}

func (cacheMiss) Error() string { return "not in the builder's zone cache" }

var errCacheMiss error = cacheMiss{}

// lookup returns what publishName needs to compile name at rev from the
// copy: the zone that serves the name (nil: none) and its data. ok is
// false when the copy cannot answer (off, another revision, a piece not
// held); the caller then reads etcd.
func (b *Builder) cachedInput(ctx context.Context, name string, rev int64) (z *dnsv1.Zone, d zoneData, ok bool) {
	c := b.cache
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.rev == 0 || c.rev != rev {
		if !c.disabled {
			c.misses()
		}
		return nil, zoneData{}, false
	}
	names := ancestry(name)
	byName := make(map[string][]*dnsv1.Zone, len(names))
	for _, n := range names {
		for _, id := range c.byName[n] {
			e := c.zones[id]
			if e == nil || !e.hasZone || e.zone == nil || e.zone.GetName() != n {
				c.misses()
				return nil, zoneData{}, false
			}
			byName[n] = append(byName[n], e.zone)
		}
		store.SortZonesOldestFirst(byName[n])
	}
	z, err := b.decide(ctx, name, names, byName, rev, c.recordsAt)
	if err != nil {
		c.misses()
		return nil, zoneData{}, false
	}
	if z == nil {
		c.hits()
		return nil, zoneData{}, true
	}
	e := c.zones[z.GetId()]
	if !e.hasSettings || !e.hasRecs || !e.hasDnssec || !e.hasXfr {
		c.misses()
		return nil, zoneData{}, false
	}
	d = zoneData{zs: e.settings, ds: e.dnssec, in: e.xfrIn, out: e.xfrOut,
		recs: make([]*dnsv1.Record, len(e.recs)), packed: make([]*snapshot.Record, len(e.recs))}
	for i, k := range e.recs {
		d.recs[i], d.packed[i] = k.rec, k.packed
	}
	c.hits()
	return z, d, true
}

// recordsAt is RecordsAtNameAt from the copy (read lock held), for the
// delegation check of shadow.go; errCacheMiss when the zone's records are
// not held.
func (c *zoneCache) recordsAt(_ context.Context, zoneID, name string, _ int64) ([]*dnsv1.Record, error) {
	e := c.zones[zoneID]
	if e == nil || !e.hasRecs {
		return nil, errCacheMiss
	}
	p := dnsname.Reverse(name) + "/"
	i, _ := slices.BinarySearchFunc(e.recs, p, func(k keyedRecord, p string) int { return strings.Compare(k.key, p) })
	var out []*dnsv1.Record
	for ; i < len(e.recs) && strings.HasPrefix(e.recs[i].key, p); i++ {
		out = append(out, e.recs[i].rec)
	}
	return out, nil
}

// keepZones keeps zones read from etcd at rev (serving's read of a name
// and its ancestors) when the copy is at rev.
func (c *zoneCache) keepZones(rev int64, byName map[string][]*dnsv1.Zone) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rev == 0 || c.rev != rev {
		return
	}
	for _, zs := range byName {
		for _, z := range zs {
			e := c.zones[z.GetId()]
			if e == nil {
				if e = c.entry(z.GetId()); e == nil {
					return
				}
			}
			if !e.hasZone {
				e.zone, e.hasZone = z, true
			}
		}
	}
}

// keepData keeps a zone's data read from etcd at rev when the copy is at
// rev, the records only up to the bounds.
func (c *zoneCache) keepData(rev int64, zoneID string, d zoneData, keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rev == 0 || c.rev != rev {
		return
	}
	e := c.zones[zoneID]
	if e == nil {
		if e = c.entry(zoneID); e == nil {
			return
		}
	}
	if !e.hasSettings {
		e.settings, e.hasSettings = d.zs, true
	}
	if !e.hasDnssec {
		e.dnssec, e.hasDnssec = d.ds, true
	}
	if !e.hasXfr {
		e.xfrIn, e.xfrOut, e.hasXfr = d.in, d.out, true
	}
	if e.hasRecs || len(d.recs) > c.maxZoneRecords || len(keys) != len(d.recs) {
		return
	}
	// Room for them: other zones' records go (random victims).
	for id, o := range c.zones {
		if c.records+len(d.recs) <= c.maxRecords {
			break
		}
		if id != zoneID {
			c.dropRecords(o)
		}
	}
	if c.records+len(d.recs) > c.maxRecords {
		return
	}
	e.recs = make([]keyedRecord, len(d.recs))
	for i, r := range d.recs {
		e.recs[i] = keyed(keys[i], r, c.buf)
	}
	e.hasRecs = true
	c.records += len(d.recs)
}

// ancestry is name and its ancestors, nearest first.
func ancestry(name string) []string {
	var names []string
	for a := name; a != "."; a = dnsname.Parent(a) {
		names = append(names, a)
	}
	return names
}
