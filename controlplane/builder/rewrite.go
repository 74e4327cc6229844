package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// maxChainBytes bounds the deltas a builder keeps in memory per zone to
// rewrite its full snapshot without reading etcd; a longer chain (bulk
// changes) falls back to compiling the zone from etcd.
const maxChainBytes = 64 << 20

// errNoBase says the rewrite cannot start from what is published (no
// complete chain in memory, the published snapshot is not the one the
// chain starts from, the zone's header needs its records): the caller
// compiles the zone from etcd instead.
var errNoBase = errors.New("no published base to rewrite from")

// keepDelta remembers a delta just published for the next rewrite of the
// name's full snapshot. Past maxChainBytes the deltas kept are dropped and
// keeping starts again after this one. Called with b.mu held.
func (st *zoneState) keepDelta(d *snapshot.ZoneDelta) {
	if !st.chainOK {
		return
	}
	st.kept = append(st.kept, d)
	st.chainBytes += deltaBytes(d)
	if st.chainBytes > maxChainBytes {
		st.startChain(d.GetToVersion())
	}
}

// startChain starts keeping the deltas published after version (a full
// snapshot just published at it, or the version a recovered chain
// continues from).
func (st *zoneState) startChain(version uint64) {
	st.chainOK, st.keptSince, st.kept, st.chainBytes = true, version, nil, 0
}

// trimChain drops the deltas a full snapshot at version took in.
func (st *zoneState) trimChain(version uint64) {
	i := 0
	for i < len(st.kept) && st.kept[i].GetToVersion() <= version {
		st.chainBytes -= deltaBytes(st.kept[i])
		i++
	}
	st.kept = append([]*snapshot.ZoneDelta(nil), st.kept[i:]...)
	st.keptSince = max(st.keptSince, version)
}

// deltaBytes is about the memory a kept delta holds.
func deltaBytes(d *snapshot.ZoneDelta) int {
	n := 64
	for _, u := range d.GetUpserts() {
		n += len(u.GetId()) + len(u.GetRr()) + 32
	}
	for _, id := range d.GetDeletes() {
		n += len(id) + 16
	}
	return n
}

// rewriteFromBase builds the full snapshot of a delta zone at rev from the
// full snapshot it last published (read back from the KV bucket and the
// object store) plus the deltas published since, kept in memory, instead
// of reading and compiling every record from etcd: on a million-record
// zone that read competed with the writes the deltas were made of (issue
// 13). Only the header is compiled from etcd (the zone, its settings and
// DNSSEC state, a few keys). The records equal what a compile at rev would
// produce, because a delta zone's records change only through published
// deltas (a full publication restarts the chain) and a delta's upserts and
// deletes are final record states, filtered here as compileZone filters
// records. Their order is the base's, changed records in place and new
// ones after the others (before the builder's glue records): edges index
// records by name, the order carries nothing. errNoBase when this is not
// possible; the caller then compiles from etcd. Called with st.fullMu held.
func (b *Builder) rewriteFromBase(ctx context.Context, name string, st *zoneState, rev int64) error {
	b.mu.Lock()
	// The deltas kept cover every change after keptSince: the published
	// full snapshot's version after a full publication by this builder;
	// later for a chain recovered from NATS or after the kept deltas
	// overflowed, and then the ones before are read from the stream.
	ok, since := st.chainOK, st.keptSince
	zoneID, base, ns := st.zoneID, st.fullVersion, st.ns
	var chain []*snapshot.ZoneDelta
	for _, d := range st.kept {
		if d.GetToVersion() > base && d.GetToVersion() <= uint64(rev) {
			chain = append(chain, d)
		}
	}
	b.mu.Unlock()
	if !ok || zoneID == "" {
		return errNoBase
	}
	// The kept encoding is this rewrite's until it gives it back: a
	// rewrite of the term before may still run, and the spare buffer is
	// written into.
	k := b.takeEncoding(name)
	defer func() { b.keepEncoding(name, k) }()
	if since > base {
		// A chain recovered after a restart or a change of leader: the
		// deltas between the published snapshot and where keeping started
		// were published before, by this builder or another; read them
		// back from the delta stream.
		older, err := b.deltasBetween(ctx, name, zoneID, base, min(since, uint64(rev)))
		if err != nil {
			// Whatever failed, the rewrite must still happen: from etcd.
			return fmt.Errorf("%w: %w", errNoBase, err)
		}
		chain = append(older, chain...)
	}
	z, err := b.serving(ctx, name, rev)
	if err != nil {
		return err
	}
	if z == nil || z.GetId() != zoneID || z.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY {
		k = keptEncoding{}
		return errNoBase // publishName decides (unpublish, another zone, merged records)
	}
	zs, err := b.st.ZoneSettingsAt(ctx, zoneID, rev)
	if err != nil {
		return err
	}
	if zs.GetMultiProvider() {
		return errNoBase // the apex NS set includes the user's apex NS records
	}
	ds, err := b.st.DnssecAt(ctx, zoneID, rev)
	if err != nil {
		return err
	}
	hdr, _ := compileZone(z, zs, nil, rev, b.opts)
	h := hdr.Header
	h.Dnssec = dnssecHeader(ds)
	if h.Transfer, err = b.transferHeader(ctx, z, rev); err != nil {
		return err
	}
	readStart := time.Now()
	payload, from, err := b.readBase(ctx, name, zoneID, base, k)
	if err != nil {
		return err
	}
	read := time.Since(readStart)
	if ns == nil {
		// A recovered chain does not know the glue of the base: it is the
		// base's header with the zone as it was at the base's version.
		bh, err := zoneHeaderOf(payload)
		if err != nil {
			return fmt.Errorf("%w: %w", errNoBase, err)
		}
		zb, err := b.st.GetZoneAt(ctx, zoneID, int64(base))
		if err != nil {
			return fmt.Errorf("%w: zone at the base's version: %w", errNoBase, err)
		}
		ns = glueFingerprint(bh, zb)
	}
	if !equalStrings(glueFingerprint(h, z), ns) {
		return errNoBase // the builder's glue records differ from the base's
	}
	spliceStart := time.Now()
	// The splice writes into the buffer of the encoding before the base,
	// when one is kept: no 100 MB allocation per rewrite.
	data, records, err := spliceChain(k.spare, payload, h, chain, glueOf(z))
	deltas := len(chain)
	chain = nil
	if err != nil {
		return fmt.Errorf("%w: %w", errNoBase, err)
	}
	spliced := time.Since(spliceStart)
	putStart := time.Now()
	if int64(len(data)) <= b.maxInline() {
		k = keptEncoding{} // small: the KV value is read back cheaply
		return b.putEncoded(ctx, name, h, data, records)
	}
	if err := b.putObjectPaced(ctx, name, h, data, records); err != nil {
		// What the KV value names is still the base: keep it, and reuse
		// the buffer.
		k = keptEncoding{zoneID: zoneID, version: base, data: payload, spare: data}
		return err
	}
	k = keptEncoding{zoneID: zoneID, version: uint64(rev), data: data, spare: payload}
	b.log.Info("full snapshot rewritten from the published one", zap.String("zone", name), zap.Int64("version", rev),
		zap.String("base_from", from), zap.Int("deltas", deltas), zap.Int("bytes", len(data)),
		zap.Duration("read", read), zap.Duration("splice", spliced), zap.Duration("put", time.Since(putStart)))
	return nil
}

// keptEncoding is the encoded records of the last full snapshot a rewrite
// put in the object store for a name (data, of zone zoneID at version), so
// that the next rewrite splices from memory instead of reading ~100 MB
// back from the object store and verifying it, and the buffer of the one
// before (spare), which the next splice writes into. On the
// million-record zone those were ~300 MB of allocations per rewrite, each
// setting off a collection of the control plane's whole heap (etcd's key
// index included) that took CPU from the record writes (issue 13). Kept in
// Builder.kept across terms: a rewrite uses data only when the KV value
// still names its version.
type keptEncoding struct {
	zoneID      string
	version     uint64
	data, spare []byte
}

// maxKeptEncodings bounds the memory all kept encodings take: past it a
// rewrite keeps no spare buffer, then no encoding (and reads the object
// back next time).
const maxKeptEncodings = 768 << 20

// takeEncoding hands the name's kept encoding to a rewrite, which owns its
// buffers until keepEncoding.
func (b *Builder) takeEncoding(name string) keptEncoding {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.kept[name]
	delete(b.kept, name)
	return e
}

// keepEncoding keeps e for the name's next rewrite, within
// maxKeptEncodings.
func (b *Builder) keepEncoding(name string, e keptEncoding) {
	b.mu.Lock()
	defer b.mu.Unlock()
	others := 0
	for n, o := range b.kept {
		if n != name {
			others += cap(o.data) + cap(o.spare)
		}
	}
	if others+cap(e.data)+cap(e.spare) > maxKeptEncodings {
		e.spare = nil
	}
	if others+cap(e.data) > maxKeptEncodings || e.data == nil {
		delete(b.kept, name)
		return
	}
	if b.kept == nil {
		b.kept = map[string]keptEncoding{}
	}
	b.kept[name] = e
}

// deltasBetween reads back from the delta stream the name's deltas that
// take a zone of zoneID from version from to version until, in order,
// skipping duplicates (a replayed batch); errNoBase unless they chain
// without a gap (an edge applies a delta with from_version ≤ held <
// to_version) and are signed by this builder's key.
func (b *Builder) deltasBetween(ctx context.Context, name, zoneID string, from, until uint64) ([]*snapshot.ZoneDelta, error) {
	if until <= from {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := b.js.Stream(ctx, snapshot.DeltaStream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", snapshot.DeltaStream, err)
	}
	subject := snapshot.DeltaSubject(name)
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, fmt.Errorf("read deltas of %s: %w", name, err)
	}
	var out []*snapshot.ZoneDelta
	held := from
	for held < until {
		batch, err := c.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read deltas of %s: %w", name, err)
		}
		n, pending := 0, uint64(1)
		for m := range batch.Messages() {
			n++
			if md, err := m.Metadata(); err == nil {
				pending = md.NumPending
			}
			data, err := b.verify.Open(snapshot.DeltaBinding(subject), m.Data())
			if err != nil {
				return nil, fmt.Errorf("%w: delta of %s: %w", errNoBase, name, err)
			}
			d, err := snapshot.UnmarshalDelta(data)
			if err != nil || d.GetZoneId() != zoneID {
				continue // another zone's chain under the name, before the base
			}
			switch {
			case d.GetToVersion() <= held || held >= until:
				continue // before the base, a duplicate, or after the range
			case d.GetFromVersion() > held:
				return nil, fmt.Errorf("%w: deltas of %s skip from %d to %d", errNoBase, name, held, d.GetFromVersion())
			}
			out = append(out, d)
			held = d.GetToVersion()
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("read deltas of %s: %w", name, err)
		}
		if n == 0 || pending == 0 {
			break
		}
	}
	if held != until {
		return nil, fmt.Errorf("%w: deltas of %s reach %d, not %d", errNoBase, name, held, until)
	}
	return out, nil
}

// readBase reads back the encoded full snapshot published for the name
// (the object's when the KV value points at one) and checks it is the one
// at version of zone zoneID. Only the header is decoded. When the KV value
// points at the object this builder's last rewrite put and kept (k), the
// kept encoding is used: neither read nor verified again. from says where
// the records came from (kv, object, kept).
func (b *Builder) readBase(ctx context.Context, name, zoneID string, version uint64, k keptEncoding) (payload []byte, from string, err error) {
	key := snapshot.ZoneKey(name)
	e, err := b.zones.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, "", errNoBase
	}
	if err != nil {
		return nil, "", fmt.Errorf("get zone snapshot %s: %w", key, err)
	}
	payload, err = b.verify.Open(snapshot.ZoneBinding(key), e.Value())
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errNoBase, err)
	}
	z, err := snapshot.UnmarshalZone(payload)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errNoBase, err)
	}
	if z.GetTombstone() || z.GetHeader().GetZoneId() != zoneID || z.GetHeader().GetVersion() != version {
		return nil, "", errNoBase
	}
	if z.GetRecordsObject() == "" {
		return payload, "kv", nil
	}
	if k.data != nil && k.zoneID == zoneID && k.version == version {
		// The object this builder put at version: the KV value still
		// names it (a full snapshot at a version has the same records
		// whoever compiled it).
		return k.data, "kept", nil
	}
	data, err := b.objs.GetBytes(ctx, z.GetRecordsObject())
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, "", errNoBase
	}
	if err != nil {
		return nil, "", fmt.Errorf("get zone object %s: %w", z.GetRecordsObject(), err)
	}
	if payload, err = b.verify.Open(snapshot.ObjectBinding(key), data); err != nil {
		return nil, "", fmt.Errorf("%w: object %s: %w", errNoBase, key, err)
	}
	hdr, err := zoneHeaderOf(payload)
	if err != nil {
		return nil, "", fmt.Errorf("%w: object %s: %w", errNoBase, key, err)
	}
	if hdr.GetZoneId() != zoneID || hdr.GetVersion() != version {
		return nil, "", errNoBase
	}
	return payload, "object", nil
}

// Field numbers of snapshot.Zone and snapshot.Record
// (proto/snapshot/v1/snapshot.proto).
const (
	zoneHeaderField  = 1
	zoneRecordsField = 2
	recordIDField    = 1
)

// zoneHeaderOf decodes only the header of an encoded snapshot.Zone.
func zoneHeaderOf(b []byte) (*snapshot.ZoneHeader, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num == zoneHeaderField && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[n:])
			h := &snapshot.ZoneHeader{}
			if err := proto.Unmarshal(v, h); err != nil {
				return nil, fmt.Errorf("decode zone header: %w", err)
			}
			return h, nil
		}
		b = b[n+m:]
	}
	return nil, errors.New("zone snapshot without a header")
}

// recordID returns the id of an encoded snapshot.Record, without copying.
func recordID(b []byte) ([]byte, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		if num == recordIDField && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b[n:])
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			return v, nil
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		b = b[n+m:]
	}
	return nil, nil
}

// spliceChain applies deltas (in publication order) to an encoded full
// snapshot and returns the encoded snapshot with header h, working on the
// encoding: each base record is copied as bytes unless a delta changed it,
// so a million-record zone costs a copy, not a million decoded records
// (decoding them stalled the control plane's writes for hundreds of
// milliseconds in garbage collection on two cores). The result is byte for
// byte what snapshot.MarshalZone gives for the same records: the base was
// encoded deterministically by it, field by field in number order. Per
// record id the last state wins; an upsert that a full compile would leave
// out (an SOA record: the header carries the SOA; an address at a name
// whose glue the builder makes) removes the record instead. Records keep
// the base's order, changed ones in place, new ones after the others and
// before the builder's glue records (compileZone puts those last). The
// result is written into dst's array when it is large enough (dst must
// not overlap base).
func spliceChain(dst, base []byte, h *snapshot.ZoneHeader, chain []*snapshot.ZoneDelta, glue []*dnsv1.NameserverAddresses) (out []byte, records int, err error) {
	glueNames := make(map[string]bool, len(glue))
	for _, a := range glue {
		glueNames[strings.ToLower(dns.Fqdn(a.GetName()))] = true
	}
	final := map[string]*snapshot.Record{} // id → its last state (nil: deleted)
	var order []string                     // ids in the order first changed
	set := func(id string, r *snapshot.Record) {
		if _, seen := final[id]; !seen {
			order = append(order, id)
		}
		final[id] = r
	}
	for _, d := range chain {
		for _, id := range d.GetDeletes() {
			set(id, nil)
		}
		for _, u := range d.GetUpserts() {
			if compiledAway(u, glueNames) {
				set(u.GetId(), nil)
			} else {
				set(u.GetId(), u)
			}
		}
	}
	hdr, err := snapshot.MarshalZone(&snapshot.Zone{Header: h})
	if err != nil {
		return nil, 0, err
	}
	out = slices.Grow(append(dst[:0], hdr...), len(base)+1024)
	appendRecord := func(out []byte, r *snapshot.Record) ([]byte, error) {
		v, err := recordMarshal.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode record %s: %w", r.GetId(), err)
		}
		records++
		out = protowire.AppendTag(out, zoneRecordsField, protowire.BytesType)
		return protowire.AppendBytes(out, v), nil
	}
	var glueFields [][]byte
	for b := base; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, 0, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, 0, protowire.ParseError(m)
		}
		field := b[:n+m]
		b = b[n+m:]
		switch {
		case num == zoneRecordsField && typ == protowire.BytesType:
		case num == zoneHeaderField:
			continue // replaced by h
		default:
			// records_object, tombstone: not in a full snapshot's records
			// payload; anything else is not a format this code knows.
			return nil, 0, fmt.Errorf("zone snapshot field %d: not expected in a full snapshot", num)
		}
		v, _ := protowire.ConsumeBytes(field[n:])
		id, err := recordID(v)
		if err != nil {
			return nil, 0, fmt.Errorf("decode record: %w", err)
		}
		if bytes.HasPrefix(id, []byte("zcns-")) {
			glueFields = append(glueFields, field)
			continue
		}
		if f, changed := final[string(id)]; changed {
			if f != nil {
				if out, err = appendRecord(out, f); err != nil {
					return nil, 0, err
				}
			}
			delete(final, string(id))
			continue
		}
		out = append(out, field...)
		records++
	}
	for _, id := range order {
		if f := final[id]; f != nil {
			if out, err = appendRecord(out, f); err != nil {
				return nil, 0, err
			}
		}
	}
	for _, f := range glueFields {
		out = append(out, f...)
		records++
	}
	return out, records, nil
}

// recordMarshal encodes records as snapshot.MarshalZone does.
var recordMarshal = proto.MarshalOptions{Deterministic: true}

// compiledAway reports whether compileZone would leave the record out.
func compiledAway(r *snapshot.Record, glueNames map[string]bool) bool {
	rr, _, err := dns.UnpackRR(r.GetRr(), 0)
	if err != nil || rr == nil {
		return true
	}
	h := rr.Header()
	switch h.Rrtype {
	case dns.TypeSOA:
		return true
	case dns.TypeA, dns.TypeAAAA:
		return glueNames[strings.ToLower(h.Name)]
	}
	return false
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// How a rewrite sends a zone object: objectStep bytes at a time, at most
// objectPace bytes per second, proving the lease before each step. Sent at
// once, the ~110 MB of the million-record zone took the two cores from the
// control plane's record writes for about a second (publish, and the
// embedded NATS server storing it) and stalled them for up to 190 ms
// (issue 13); a rewrite is background work, and taking a few seconds
// delays no delta.
var (
	objectPace = 48 << 20
	objectStep = 1 << 20
)

// putObjectPaced puts a rewritten full snapshot too large for a KV value
// as putEncoded does (object first, then the KV value pointing at it),
// but signs it without copying it (SealAround) and sends it paced, in a
// stepped write (fence.go) that may last longer than one proven window.
// Called with the name's fullMu held.
func (b *Builder) putObjectPaced(ctx context.Context, name string, h *snapshot.ZoneHeader, data []byte, records int) error {
	key := snapshot.ZoneKey(name)
	prefix, suffix, err := b.cfg.Signer.SealAround(snapshot.ObjectBinding(key), data)
	if err != nil {
		return err
	}
	f := b.fence.Load()
	var ttl time.Duration
	if f != nil {
		ttl = f.ttl
	}
	w, err := f.steppedWriteCtx(ctx, ttl/8)
	if err != nil {
		return fmt.Errorf("put zone object %s: %w", key, err)
	}
	defer w.done()
	r := &pacedReader{parts: [][]byte{prefix, data, suffix}, left: len(prefix) + len(data) + len(suffix),
		w: w, stepNeed: ttl / 8, lastNeed: ttl / 2, start: time.Now()}
	chunk := uint32(min(128<<10, b.maxInline()))
	meta := jetstream.ObjectMeta{Name: key, Opts: &jetstream.ObjectMetaOptions{ChunkSize: chunk}}
	if _, err := b.objs.Put(w.ctx, meta, r); err != nil {
		if cause := context.Cause(w.ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		return fmt.Errorf("put zone object %s: %w", key, err)
	}
	return b.publishPointer(ctx, name, key, h, records, r.sent, zap.Int("steps", r.steps))
}

// pacedReader feeds parts to the object store's Put: objectStep bytes per
// step, steps no faster than objectPace, and before each step after the
// first a proof of the lease that covers it (lastNeed for the last, which
// is followed by the object's meta message and the wait for every chunk's
// acknowledgement). It pauses only between two reads, so the object's
// chunks keep their size.
type pacedReader struct {
	parts              [][]byte
	left               int // bytes not yet read
	w                  *steppedWrite
	stepNeed, lastNeed time.Duration
	start              time.Time
	sent, inStep       int
	steps              int
}

func (r *pacedReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.inStep >= objectStep || r.steps == 0 {
		if r.steps > 0 {
			if wait := r.start.Add(time.Duration(float64(r.sent) / float64(objectPace) * float64(time.Second))).Sub(time.Now()); wait > 0 {
				time.Sleep(wait)
			} else {
				runtime.Gosched()
			}
			need := r.stepNeed
			if r.left <= objectStep {
				need = r.lastNeed
			}
			if err := r.w.step(need); err != nil {
				return 0, err
			}
		}
		r.inStep = 0
		r.steps++
	}
	n := 0
	for n < len(p) && len(r.parts) > 0 {
		c := copy(p[n:], r.parts[0])
		r.parts[0] = r.parts[0][c:]
		if len(r.parts[0]) == 0 {
			r.parts = r.parts[1:]
		}
		n += c
	}
	r.left -= n
	r.sent += n
	r.inStep += n
	return n, nil
}
