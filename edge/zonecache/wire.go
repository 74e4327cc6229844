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
		err = l.flush()
	}
	if err != nil {
		return nil, fmt.Errorf("zone %q: %w", name, err)
	}
	z.finishBuild(h)
	return z, nil
}

// loadChunk is how many records BuildBytes decodes in parallel at a time:
// enough to keep the workers busy, little enough that the decoded chunk
// (~80 bytes a record) is small next to the zone.
const loadChunk = 16384

// loader decodes records in parallel (unpacking wire-format RRs is most of
// a load) and inserts them into the index in order, on one goroutine.
type loader struct {
	z       *Zone
	workers int
	pending [][]byte
	done    int // records inserted so far
}

type decoded struct {
	id    idKey
	enc   string // "" for a record the zone does not serve
	owner string
	err   error
}

func (l *loader) flush() error {
	out := make([]decoded, len(l.pending))
	var wg sync.WaitGroup
	per := (len(l.pending) + l.workers - 1) / l.workers
	for lo := 0; lo < len(l.pending); lo += per {
		hi := min(lo+per, len(l.pending))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []byte
			for i := lo; i < hi; i++ {
				w, err := decodeRecord(l.pending[i])
				if err != nil {
					out[i].err = err
					continue
				}
				r, owner, err := unpackRecord(l.z.key(), l.z.suffix(), w)
				if err != nil || r.rr == nil {
					out[i].err = err
					continue
				}
				out[i].id, out[i].owner = r.id, owner
				out[i].enc, scratch, out[i].err = encodeRecord(r, w.rr, scratch)
				if out[i].err != nil {
					out[i].err = fmt.Errorf("%s: pack: %w", w.id, out[i].err)
				}
			}
		}()
	}
	wg.Wait()
	for i := range out {
		d := &out[i]
		if d.err != nil {
			return fmt.Errorf("record %d: %w", l.done+i, d.err)
		}
		if d.enc == "" {
			continue // not data this zone serves (SOA, apex NS, OPT)
		}
		l.z.addEncoded(d.owner, d.id, d.enc)
	}
	l.done += len(out)
	l.pending = l.pending[:0]
	return nil
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
