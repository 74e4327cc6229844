package zonecache

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/zonegrid/zonegrid/pkg/managed"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Field numbers of snapshot.Zone and snapshot.Record (snapshot.proto).
const (
	zoneHeaderField  = 1
	zoneRecordsField = 2
	zoneObjectField  = 3

	recordIDField        = 1
	recordRRField        = 2
	recordProxiedField   = 3
	recordFlattenField   = 4
	recordManagedByField = 5
)

// BuildBytes is Build for an encoded snapshot.Zone, as stored in the
// object store. It reads the records straight from b instead of decoding
// the whole message first, so that loading a zone of a million records does
// not first allocate a million Record messages (hundreds of MB the garbage
// collector then has to find) next to the index being built.
func BuildBytes(b []byte) (*Zone, error) {
	var hdrBytes []byte
	object := ""
	if err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch num {
		case zoneHeaderField:
			hdrBytes = v
		case zoneObjectField:
			object = string(v)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("decode zone snapshot: %w: %w", err, ErrInvalidZone)
	}
	if hdrBytes == nil {
		return nil, fmt.Errorf("zone snapshot without header: %w", ErrInvalidZone)
	}
	h := &snapshot.ZoneHeader{}
	if err := proto.Unmarshal(hdrBytes, h); err != nil {
		return nil, fmt.Errorf("decode zone snapshot header: %w: %w", err, ErrInvalidZone)
	}
	if h.GetFormat() != snapshot.FormatVersion {
		return nil, fmt.Errorf("zone snapshot %q format %d: %w", h.GetName(), h.GetFormat(), snapshot.ErrFormat)
	}
	name, err := checkHeader(h)
	if err != nil {
		return nil, err
	}
	if object != "" {
		return nil, fmt.Errorf("zone %q: records are in object %q, not loaded: %w", name, object, ErrInvalidZone)
	}
	// Count first, so that the index is allocated at its final size.
	n := 0
	_ = walk(b, func(num protowire.Number, _ protowire.Type, _ []byte) error {
		if num == zoneRecordsField {
			n++
		}
		return nil
	})
	z := newZone(h, name, n)
	l := &loader{z: z, workers: min(runtime.GOMAXPROCS(0), 8)}
	err = walk(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != zoneRecordsField {
			return nil
		}
		if typ != protowire.BytesType {
			return errors.New("record is not a message")
		}
		l.pending = append(l.pending, v)
		if len(l.pending) == loadChunk {
			return l.flush()
		}
		return nil
	})
	if err == nil {
		err = l.finish()
	}
	if err != nil {
		return nil, fmt.Errorf("zone %q: %w", name, err)
	}
	l.mergeGrow()
	z.finishBuild(h)
	return z, nil
}

// loadChunk is how many records BuildBytes decodes in parallel at a time:
// enough to keep the workers busy, little enough that the decoded chunks
// (~80 bytes a record, two chunks at a time) are small next to the zone.
const loadChunk = 16384

// loader decodes records in parallel (unpacking wire-format RRs is most of
// a load) and inserts them into the index in record order. The insert of
// one chunk runs while the workers decode the next, and is itself split by
// index shard: each inserter creates the nodes of its shards and appends
// their records (a name's records all go to one inserter, in order), then
// one goroutine links the new nodes to their parents (creating the empty
// non-terminals, in any shard) and fills the id index in record order.
type loader struct {
	z       *Zone
	workers int
	pending [][]byte
	decoded []decoded // the chunk decoded last, not inserted yet
	spare   []decoded
	grow    []map[*Node][]byte // each inserter's (appendData)
	done    int                // records inserted so far
	// hashes holds, beside each slot of each shard of the name index,
	// the hash of the name there (0: not known), so that probing for a
	// name new to the index (most of a load) compares hashes instead of
	// reading the nodes the slots point to, a cache miss each: the
	// probes were 0.4-0.6 s of a million-record load. Indexed by shard;
	// each inserter touches only its shards'. Dropped with the loader.
	hashes [][]uint32
}

// getOrAdd returns the node of name (of hash h), creating it if the index
// has none (isNew): nodeIndex.getHash then setHash, in one probe that
// reads a node only where the hashes agree (or the slot's is not known:
// nodes created outside the inserters, the parents linked after them).
func (l *loader) getOrAdd(name string, h uint32) (nd *Node, isNew bool) {
	x := &l.z.nodes
	si := h & x.mask
	t := *x.at(si)
	hs := l.hashes[si]
	if len(hs) != len(t.slots) {
		// First use of the shard, or its table grew since.
		hs = make([]uint32, len(t.slots))
		l.hashes[si] = hs
	}
	i := x.home(h, len(t.slots))
	for {
		s := t.slots[i]
		if s == nil {
			break
		}
		if hs[i] == 0 {
			hs[i] = fnv1a(s.Name)
		}
		if hs[i] == h && s.Name == name {
			return s, false
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	nd = &Node{Name: name}
	if (t.n+1)*maxLoadDen > len(t.slots)*maxLoadNum {
		x.setHash(nd, h) // grows the table; the hashes follow at the next use
		return nd, true
	}
	t.slots[i] = nd
	t.n++
	hs[i] = h
	return nd, true
}

type decoded struct {
	id    idKey
	enc   string // "" for a record the zone does not serve
	owner string
	hash  uint32 // fnv1a(owner)
	isNew bool   // the record created its node (insert)
	node  *Node
	err   error
}

// flush starts decoding the pending records, inserts the chunk decoded
// before them meanwhile, and waits for the decoding.
func (l *loader) flush() error {
	out := l.spare[:0]
	if cap(out) < len(l.pending) {
		out = make([]decoded, len(l.pending))
	}
	out = out[:len(l.pending)]
	var wg sync.WaitGroup
	per := (len(l.pending) + l.workers - 1) / l.workers
	for lo := 0; lo < len(l.pending); lo += per {
		hi := min(lo+per, len(l.pending))
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.decode(l.pending[lo:hi], out[lo:hi])
		}()
	}
	err := l.insert()
	wg.Wait()
	l.pending = l.pending[:0]
	l.spare, l.decoded = l.decoded, out
	return err
}

// finish inserts the last decoded chunk.
func (l *loader) finish() error {
	if len(l.pending) > 0 {
		if err := l.flush(); err != nil {
			return err
		}
	}
	return l.insert()
}

// decode decodes recs into out (of the same length), on a worker.
func (l *loader) decode(recs [][]byte, out []decoded) {
	var scratch []byte
	key, suffix := l.z.key(), l.z.suffix()
	for i, b := range recs {
		d := &out[i]
		*d = decoded{}
		w, err := decodeRecord(b)
		if err != nil {
			d.err = err
			continue
		}
		var ok bool
		if d.enc, d.owner, d.id, ok = fastRecord(key, suffix, w); ok {
			d.hash = fnv1a(d.owner)
			continue
		}
		r, owner, err := unpackRecord(key, suffix, w)
		if err != nil || r.rr == nil {
			d.err = err
			continue
		}
		d.id, d.owner, d.hash = r.id, owner, fnv1a(owner)
		d.enc, scratch, d.err = encodeRecord(r, w.rr, scratch)
		if d.err != nil {
			d.err = fmt.Errorf("%s: pack: %w", w.id, d.err)
		}
	}
}

// insert adds the decoded chunk to the zone, or returns the first error
// in it.
func (l *loader) insert() error {
	for i := range l.decoded {
		if err := l.decoded[i].err; err != nil {
			return fmt.Errorf("record %d: %w", l.done+i, err)
		}
	}
	z := l.z
	if l.grow == nil {
		l.grow = make([]map[*Node][]byte, l.workers)
		l.hashes = make([][]uint32, z.nodes.shards())
	}
	var wg sync.WaitGroup
	for w := range l.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A record of the same name as the one before it (a name's
			// records are often next to each other, as in the benchmark's
			// zone) needs no probe of the index.
			var last *Node
			for i := range l.decoded {
				d := &l.decoded[i]
				if d.enc == "" || int(d.hash&z.nodes.mask)%l.workers != w {
					continue
				}
				if last != nil && last.Name == d.owner {
					d.node = last
				} else {
					d.node, d.isNew = l.getOrAdd(d.owner, d.hash)
				}
				last = d.node
				appendData(d.node, d.enc, &l.grow[w])
			}
		}()
	}
	wg.Wait()
	for i := range l.decoded {
		d := &l.decoded[i]
		if d.enc == "" {
			continue // not data this zone serves (SOA, apex NS, OPT)
		}
		if d.isNew {
			z.nnodes++
			z.linkParent(d.node.Name)
		}
		z.ids.add(d.id, d.node)
	}
	l.done += len(l.decoded)
	l.decoded = l.decoded[:0]
	return nil
}

// mergeGrow hands the inserters' growing records to the zone, for
// finishBuild.
func (l *loader) mergeGrow() {
	for _, g := range l.grow {
		for nd, b := range g {
			if l.z.grow == nil {
				l.z.grow = map[*Node][]byte{}
			}
			l.z.grow[nd] = b
		}
	}
}

// decodeRecord reads one encoded snapshot.Record; id and rr alias b.
func decodeRecord(b []byte) (wireRecord, error) {
	var w wireRecord
	err := walk(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch num {
		case recordIDField:
			w.id = v
		case recordRRField:
			w.rr = v
		case recordProxiedField:
			w.proxied = len(v) > 0 && v[0] != 0
		case recordFlattenField:
			w.flatten = len(v) > 0 && v[0] != 0
		case recordManagedByField:
			w.managed = managed.FromWire(v)
		}
		return nil
	})
	return w, err
}

// walk calls fn for each field of an encoded message with its value: the
// contents of a length-delimited field, the varint's encoding otherwise
// (only its zero-ness is used). Groups and bad encodings are errors.
func walk(b []byte, fn func(protowire.Number, protowire.Type, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		switch typ {
		case protowire.BytesType:
			val, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			v, n = val, m
		case protowire.VarintType:
			x, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			if x != 0 {
				v = []byte{1}
			}
			n = m
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			n = m
		}
		if err := fn(num, typ, v); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
