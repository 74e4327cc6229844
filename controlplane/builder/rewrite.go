package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	payload, err := b.readBase(ctx, name, zoneID, base)
	if err != nil {
		return err
	}
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
	data, records, err := spliceChain(payload, h, chain, glueOf(z))
	payload, chain = nil, nil
	if err != nil {
		return fmt.Errorf("%w: %w", errNoBase, err)
	}
	return b.putEncoded(ctx, name, h, data, records)
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
// at version of zone zoneID. Only the header is decoded.
func (b *Builder) readBase(ctx context.Context, name, zoneID string, version uint64) ([]byte, error) {
	key := snapshot.ZoneKey(name)
	e, err := b.zones.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, errNoBase
	}
	if err != nil {
		return nil, fmt.Errorf("get zone snapshot %s: %w", key, err)
	}
	payload, err := b.verify.Open(snapshot.ZoneBinding(key), e.Value())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoBase, err)
	}
	z, err := snapshot.UnmarshalZone(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoBase, err)
	}
	if z.GetTombstone() || z.GetHeader().GetZoneId() != zoneID || z.GetHeader().GetVersion() != version {
		return nil, errNoBase
	}
	if z.GetRecordsObject() == "" {
		return payload, nil
	}
	data, err := b.objs.GetBytes(ctx, z.GetRecordsObject())
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, errNoBase
	}
	if err != nil {
		return nil, fmt.Errorf("get zone object %s: %w", z.GetRecordsObject(), err)
	}
	if payload, err = b.verify.Open(snapshot.ObjectBinding(key), data); err != nil {
		return nil, fmt.Errorf("%w: object %s: %w", errNoBase, key, err)
	}
	hdr, err := zoneHeaderOf(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: object %s: %w", errNoBase, key, err)
	}
	if hdr.GetZoneId() != zoneID || hdr.GetVersion() != version {
		return nil, errNoBase
	}
	return payload, nil
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
// before the builder's glue records (compileZone puts those last).
func spliceChain(base []byte, h *snapshot.ZoneHeader, chain []*snapshot.ZoneDelta, glue []*dnsv1.NameserverAddresses) (out []byte, records int, err error) {
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
	if out, err = snapshot.MarshalZone(&snapshot.Zone{Header: h}); err != nil {
		return nil, 0, err
	}
	out = slices.Grow(out, len(base)+1024)
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
